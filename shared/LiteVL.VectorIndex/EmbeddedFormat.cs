using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;

namespace LiteVL.VectorIndex;

/// <summary>One stored point of the embedded index (vector already unit length).</summary>
internal sealed record EmbeddedRow(
    Guid PointId,
    Guid VideoId,
    int SegmentIndex,
    string TenantId,
    double Start,
    double End,
    string? Title,
    string[] Tags,
    long UploadedUtcTicks,
    float[] Vector);

internal enum RecordType : byte
{
    Header = 0,
    Upsert = 1,
    DeleteVideo = 2,
    SnapshotEnd = 3,
}

internal enum FrameStatus
{
    Ok,
    EndOfFile,
    Torn,
}

/// <summary>
/// The on-disk format of the embedded index. A file is an 8-byte magic followed by frames
/// <c>[int32 payload length][uint32 CRC-32 of payload][payload]</c> (little-endian); a payload starts with a
/// <see cref="RecordType"/> byte. The first frame is the header (format, dimension, generation, model version).
/// A frame that is cut short or fails its CRC is "torn": in the log it ends the replay (and is truncated away), in a
/// snapshot it is an error (snapshots are only ever published whole, by rename).
/// </summary>
internal static class EmbeddedFormat
{
    public const int FormatVersion = 1;
    public const int FrameHeaderBytes = 8;
    public const int MaxPayloadBytes = 1 << 30;
    public static ReadOnlySpan<byte> LogMagic => "LVLVLOG1"u8;
    public static ReadOnlySpan<byte> SnapshotMagic => "LVLVSNP1"u8;

    public sealed record FileHeader(int Dimensions, long Generation, string ModelVersion);

    public static byte[] Frame(ReadOnlySpan<byte> payload)
    {
        var frame = new byte[FrameHeaderBytes + payload.Length];
        WriteFrame(payload, frame);
        return frame;
    }

    public static void WriteFrame(ReadOnlySpan<byte> payload, Span<byte> destination)
    {
        BinaryPrimitives.WriteInt32LittleEndian(destination, payload.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[4..], Crc32.Compute(payload));
        payload.CopyTo(destination[FrameHeaderBytes..]);
    }

    /// <summary>Reads one frame at the stream's position; never throws on a short or corrupt frame.</summary>
    public static FrameStatus ReadFrame(Stream stream, out byte[] payload)
    {
        payload = [];
        Span<byte> head = stackalloc byte[FrameHeaderBytes];
        var got = ReadFully(stream, head);
        if (got == 0)
        {
            return FrameStatus.EndOfFile;
        }

        if (got < FrameHeaderBytes)
        {
            return FrameStatus.Torn;
        }

        var length = BinaryPrimitives.ReadInt32LittleEndian(head);
        var crc = BinaryPrimitives.ReadUInt32LittleEndian(head[4..]);
        if (length < 1 || length > MaxPayloadBytes || length > stream.Length - stream.Position)
        {
            return FrameStatus.Torn;
        }

        var buffer = new byte[length];
        if (ReadFully(stream, buffer) < length || Crc32.Compute(buffer) != crc)
        {
            return FrameStatus.Torn;
        }

        payload = buffer;
        return FrameStatus.Ok;
    }

    private static int ReadFully(Stream stream, Span<byte> buffer)
    {
        var total = 0;
        while (total < buffer.Length)
        {
            var n = stream.Read(buffer[total..]);
            if (n == 0)
            {
                break;
            }

            total += n;
        }

        return total;
    }

    public static byte[] EncodeHeader(FileHeader header)
    {
        using var ms = new MemoryStream();
        using (var w = new BinaryWriter(ms, Encoding.UTF8, leaveOpen: true))
        {
            w.Write((byte)RecordType.Header);
            w.Write(FormatVersion);
            w.Write(header.Dimensions);
            w.Write(header.Generation);
            w.Write(header.ModelVersion);
        }

        return ms.ToArray();
    }

    public static FileHeader DecodeHeader(byte[] payload, string path)
    {
        using var r = new BinaryReader(new MemoryStream(payload), Encoding.UTF8);
        if ((RecordType)r.ReadByte() != RecordType.Header)
        {
            throw new InvalidDataException($"{path}: the first record is not a header.");
        }

        var format = r.ReadInt32();
        if (format != FormatVersion)
        {
            throw new InvalidDataException($"{path}: unsupported format version {format} (this build reads {FormatVersion}).");
        }

        return new FileHeader(r.ReadInt32(), r.ReadInt64(), r.ReadString());
    }

    public static byte[] EncodeUpsert(IReadOnlyList<EmbeddedRow> rows, int start, int count)
    {
        using var ms = new MemoryStream();
        using (var w = new BinaryWriter(ms, Encoding.UTF8, leaveOpen: true))
        {
            w.Write((byte)RecordType.Upsert);
            w.Write(count);
            for (var i = start; i < start + count; i++)
            {
                WriteRow(w, rows[i]);
            }
        }

        return ms.ToArray();
    }

    public static byte[] EncodeDeleteVideo(Guid videoId)
    {
        var payload = new byte[17];
        payload[0] = (byte)RecordType.DeleteVideo;
        videoId.TryWriteBytes(payload.AsSpan(1));
        return payload;
    }

    public static byte[] EncodeSnapshotEnd(long rows)
    {
        var payload = new byte[9];
        payload[0] = (byte)RecordType.SnapshotEnd;
        BinaryPrimitives.WriteInt64LittleEndian(payload.AsSpan(1), rows);
        return payload;
    }

    private static void WriteRow(BinaryWriter w, EmbeddedRow row)
    {
        w.Write(row.PointId.ToByteArray());
        w.Write(row.VideoId.ToByteArray());
        w.Write(row.SegmentIndex);
        w.Write(row.TenantId);
        w.Write(row.Start);
        w.Write(row.End);
        w.Write(row.Title is not null);
        if (row.Title is not null)
        {
            w.Write(row.Title);
        }

        w.Write(row.Tags.Length);
        foreach (var tag in row.Tags)
        {
            w.Write(tag);
        }

        w.Write(row.UploadedUtcTicks);
        w.Write(row.Vector.Length);
        w.Write(MemoryMarshal.AsBytes(row.Vector.AsSpan()));
    }

    /// <summary>Decodes a CRC-valid payload; a payload that does not parse is a format error, not a torn write.</summary>
    public static (RecordType Type, List<EmbeddedRow>? Rows, Guid VideoId, long Count) Decode(byte[] payload, int dimensions, string path)
    {
        try
        {
            using var r = new BinaryReader(new MemoryStream(payload), Encoding.UTF8);
            var type = (RecordType)r.ReadByte();
            switch (type)
            {
                case RecordType.Upsert:
                    var n = r.ReadInt32();
                    var rows = new List<EmbeddedRow>(n);
                    for (var i = 0; i < n; i++)
                    {
                        rows.Add(ReadRow(r, dimensions));
                    }

                    return (type, rows, Guid.Empty, n);
                case RecordType.DeleteVideo:
                    return (type, null, new Guid(r.ReadBytes(16)), 0);
                case RecordType.SnapshotEnd:
                    return (type, null, Guid.Empty, r.ReadInt64());
                default:
                    throw new InvalidDataException($"{path}: unknown record type {(byte)type}.");
            }
        }
        catch (EndOfStreamException e)
        {
            throw new InvalidDataException($"{path}: a record passed its checksum but does not parse.", e);
        }
    }

    private static EmbeddedRow ReadRow(BinaryReader r, int dimensions)
    {
        var pointId = new Guid(r.ReadBytes(16));
        var videoId = new Guid(r.ReadBytes(16));
        var segment = r.ReadInt32();
        var tenant = r.ReadString();
        var start = r.ReadDouble();
        var end = r.ReadDouble();
        var title = r.ReadBoolean() ? r.ReadString() : null;
        var tags = new string[r.ReadInt32()];
        for (var i = 0; i < tags.Length; i++)
        {
            tags[i] = r.ReadString();
        }

        var uploaded = r.ReadInt64();
        var length = r.ReadInt32();
        if (length != dimensions)
        {
            throw new InvalidDataException($"A stored vector has {length} dimensions; the collection has {dimensions}.");
        }

        var vector = new float[length];
        var bytes = MemoryMarshal.AsBytes(vector.AsSpan());
        if (r.Read(bytes) != bytes.Length)
        {
            throw new EndOfStreamException();
        }

        return new EmbeddedRow(pointId, videoId, segment, tenant, start, end, title, tags, uploaded, vector);
    }
}

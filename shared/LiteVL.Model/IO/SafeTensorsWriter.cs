using System.Buffers;
using System.Buffers.Binary;
using System.Text.Encodings.Web;
using System.Text.Json;
using LiteVL.Model.Tensors;

namespace LiteVL.Model.IO;

/// <summary>
/// Writes safetensors files deterministically: the optional <c>__metadata__</c> first (keys sorted ordinally), then the
/// tensors in the order given with contiguous data regions; the header is padded with spaces so the data section starts
/// 8-byte aligned. The file is written to <c>path + ".tmp"</c> and renamed over <paramref name="path"/> only when complete.
/// </summary>
public static class SafeTensorsWriter
{
    public static void Write(
        string path,
        IEnumerable<KeyValuePair<string, HostTensor>> tensors,
        IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(tensors);
        List<KeyValuePair<string, HostTensor>> list = tensors.ToList();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach ((string name, HostTensor tensor) in list)
        {
            if (string.IsNullOrEmpty(name))
            {
                throw new ArgumentException("Tensor names must be non-empty.", nameof(tensors));
            }

            if (name == SafeTensorsFile.MetadataKey)
            {
                throw new ArgumentException($"'{SafeTensorsFile.MetadataKey}' is reserved and cannot name a tensor.", nameof(tensors));
            }

            if (tensor is null)
            {
                throw new ArgumentException($"Tensor '{name}' is null.", nameof(tensors));
            }

            if (!seen.Add(name))
            {
                throw new ArgumentException($"Tensor '{name}' is given twice.", nameof(tensors));
            }
        }

        byte[] header = BuildHeader(list, metadata);
        string tmp = path + ".tmp";
        try
        {
            using (var fs = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20))
            {
                Span<byte> prefix = stackalloc byte[8];
                BinaryPrimitives.WriteUInt64LittleEndian(prefix, (ulong)header.Length);
                fs.Write(prefix);
                fs.Write(header);
                foreach ((_, HostTensor tensor) in list)
                {
                    fs.Write(tensor.Data);
                }

                fs.Flush(flushToDisk: true);
            }

            File.Move(tmp, path, overwrite: true);
        }
        catch
        {
            TryDelete(tmp);
            throw;
        }
    }

    internal static byte[] BuildHeader(List<KeyValuePair<string, HostTensor>> tensors, IReadOnlyDictionary<string, string>? metadata)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            json.WriteStartObject();
            if (metadata is { Count: > 0 })
            {
                json.WriteStartObject(SafeTensorsFile.MetadataKey);
                foreach (KeyValuePair<string, string> kv in metadata.OrderBy(kv => kv.Key, StringComparer.Ordinal))
                {
                    json.WriteString(kv.Key, kv.Value ?? throw new ArgumentException($"Metadata value for '{kv.Key}' is null.", nameof(metadata)));
                }

                json.WriteEndObject();
            }

            long offset = 0;
            foreach ((string name, HostTensor tensor) in tensors)
            {
                json.WriteStartObject(name);
                json.WriteString("dtype", SafeTensorsFile.DTypeCode(tensor.DType));
                json.WriteStartArray("shape");
                foreach (long d in tensor.Shape)
                {
                    json.WriteNumberValue(d);
                }

                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(offset);
                offset += tensor.Data.LongLength;
                json.WriteNumberValue(offset);
                json.WriteEndArray();
                json.WriteEndObject();
            }

            json.WriteEndObject();
        }

        int length = buffer.WrittenCount;
        int padded = (int)((8 + length + 7) / 8 * 8) - 8;
        var header = new byte[padded];
        buffer.WrittenSpan.CopyTo(header);
        header.AsSpan(length).Fill((byte)' ');
        return header;
    }

    internal static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
            // Best effort: the original exception matters more.
        }
        catch (UnauthorizedAccessException)
        {
            // Same.
        }
    }
}

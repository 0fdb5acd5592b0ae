using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace LiteVL.Storage.Blobs;

/// <summary>
/// A segment's <c>video_tokens</c> [T, 1+N, D] stored as fp16 (half the bytes of fp32; the re-ranker's inputs lose
/// nothing that matters at fp16's 3 significant digits). File: 16-byte header "LVTK", version, T, P, D (int32 LE), then
/// T·P·D little-endian halves. A small format of our own because no library format fits a raw tensor this simply.
/// </summary>
public sealed class FeatureStore(IBlobStore blobs)
{
    private const uint Magic = 0x4B54564C; // "LVTK"
    private const int Version = 1;
    private const int HeaderBytes = 20;

    public Task WriteAsync(string key, ReadOnlyMemory<float> tokens, int frames, int tokensPerFrame, int width, CancellationToken ct = default)
    {
        if (tokens.Length != frames * tokensPerFrame * width)
        {
            throw new ArgumentException($"Expected {frames}×{tokensPerFrame}×{width} = {frames * tokensPerFrame * width} values, got {tokens.Length}.", nameof(tokens));
        }

        var buffer = new byte[HeaderBytes + (tokens.Length * 2)];
        BinaryPrimitives.WriteUInt32LittleEndian(buffer.AsSpan(0), Magic);
        BinaryPrimitives.WriteInt32LittleEndian(buffer.AsSpan(4), Version);
        BinaryPrimitives.WriteInt32LittleEndian(buffer.AsSpan(8), frames);
        BinaryPrimitives.WriteInt32LittleEndian(buffer.AsSpan(12), tokensPerFrame);
        BinaryPrimitives.WriteInt32LittleEndian(buffer.AsSpan(16), width);
        var halves = MemoryMarshal.Cast<byte, Half>(buffer.AsSpan(HeaderBytes));
        System.Numerics.Tensors.TensorPrimitives.ConvertToHalf(tokens.Span, halves);
        return blobs.WriteAsync(key, (s, c) => s.WriteAsync(buffer, c).AsTask(), ct);
    }

    /// <summary>Reads tokens as float32 into <paramref name="destination"/> (length T·P·D), checking the shape.</summary>
    public async Task ReadAsync(string key, Memory<float> destination, int frames, int tokensPerFrame, int width, CancellationToken ct = default)
    {
        if (destination.Length != frames * tokensPerFrame * width)
        {
            throw new ArgumentException($"Expected room for {frames}×{tokensPerFrame}×{width} values, got {destination.Length}.", nameof(destination));
        }

        var stream = blobs.OpenRead(key);
        await using (stream.ConfigureAwait(false))
        {
            await ReadHeaderAsync(stream, key, frames, tokensPerFrame, width, ct).ConfigureAwait(false);
            var raw = new byte[frames * tokensPerFrame * width * 2];
            await stream.ReadExactlyAsync(raw, ct).ConfigureAwait(false);
            System.Numerics.Tensors.TensorPrimitives.ConvertToSingle(MemoryMarshal.Cast<byte, Half>(raw), destination.Span);
        }
    }

    /// <summary>
    /// Reads only each frame's CLS token (p = 0) as float32 into <paramref name="destination"/> [T, D], checking the shape:
    /// what a coarse search needs to name the evidence frame, 1/P of the file (seeking past the patches).
    /// </summary>
    public async Task ReadFrameClsAsync(string key, Memory<float> destination, int frames, int tokensPerFrame, int width, CancellationToken ct = default)
    {
        if (destination.Length != frames * width)
        {
            throw new ArgumentException($"Expected room for {frames}×{width} values, got {destination.Length}.", nameof(destination));
        }

        var stream = blobs.OpenRead(key);
        await using (stream.ConfigureAwait(false))
        {
            await ReadHeaderAsync(stream, key, frames, tokensPerFrame, width, ct).ConfigureAwait(false);
            var row = new byte[width * 2];
            long frameBytes = (long)tokensPerFrame * width * 2;
            for (int t = 0; t < frames; t++)
            {
                if (t > 0)
                {
                    stream.Seek(frameBytes - row.Length, SeekOrigin.Current);
                }

                await stream.ReadExactlyAsync(row, ct).ConfigureAwait(false);
                System.Numerics.Tensors.TensorPrimitives.ConvertToSingle(MemoryMarshal.Cast<byte, Half>(row), destination.Span.Slice(t * width, width));
            }
        }
    }

    private static async Task ReadHeaderAsync(Stream stream, string key, int frames, int tokensPerFrame, int width, CancellationToken ct)
    {
        var header = new byte[HeaderBytes];
        await stream.ReadExactlyAsync(header, ct).ConfigureAwait(false);
        if (BinaryPrimitives.ReadUInt32LittleEndian(header) != Magic || BinaryPrimitives.ReadInt32LittleEndian(header.AsSpan(4)) != Version)
        {
            throw new InvalidDataException($"Feature blob '{key}' is not a LiteVL token file.");
        }

        int t = BinaryPrimitives.ReadInt32LittleEndian(header.AsSpan(8));
        int p = BinaryPrimitives.ReadInt32LittleEndian(header.AsSpan(12));
        int d = BinaryPrimitives.ReadInt32LittleEndian(header.AsSpan(16));
        if (t != frames || p != tokensPerFrame || d != width)
        {
            throw new InvalidDataException($"Feature blob '{key}' holds [{t}, {p}, {d}] tokens; the model needs [{frames}, {tokensPerFrame}, {width}].");
        }
    }
}

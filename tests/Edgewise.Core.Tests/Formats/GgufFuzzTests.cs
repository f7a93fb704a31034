using System.Diagnostics;
using Edgewise.Core.Formats;
using Edgewise.Core.Formats.Gguf;
using Edgewise.Core.Tensors;
using Xunit;
using Xunit.Abstractions;

namespace Edgewise.Core.Tests.Formats;

/// <summary>
/// Seeded mutation of a valid GGUF: byte flips, truncations and inflated length/count fields. Every outcome must
/// be either a clean parse whose views lie inside the buffer, or a <see cref="GgufFormatException"/>: never an
/// unrelated exception, a hang, or an out-of-memory.
/// </summary>
public sealed class GgufFuzzTests(ITestOutputHelper output)
{
    private const int Cases = 12_000;

    [Fact]
    public unsafe void MutatedHeaders_FailOnlyWithTypedExceptions()
    {
        RawGguf raw = BuildBase();
        byte[] valid = raw.ToArray();
        long headerEnd = HeaderEnd(valid);
        long[] lengthFields = [raw.TensorCountOffset, raw.KvCountOffset, .. raw.LengthFields];
        ulong[] inflated = [ulong.MaxValue, 1UL << 63, 1UL << 62, 1UL << 60, 1UL << 32, uint.MaxValue, (ulong)valid.Length, (ulong)valid.Length + 1];

        var rng = new Random(20261129);
        var stopwatch = Stopwatch.StartNew();
        int parsed = 0, rejected = 0;
        var failures = new List<string>();
        for (int c = 0; c < Cases; c++)
        {
            byte[] bytes;
            int kind = c % 4;
            switch (kind)
            {
                case 0:
                    bytes = (byte[])valid.Clone();
                    int flips = rng.Next(1, 5);
                    for (int f = 0; f < flips; f++) bytes[rng.Next((int)headerEnd)] ^= (byte)rng.Next(1, 256);
                    break;
                case 1:
                    bytes = valid[..rng.Next(valid.Length)];
                    break;
                case 2:
                    bytes = (byte[])valid.Clone();
                    long at = lengthFields[rng.Next(lengthFields.Length)];
                    ulong value = rng.Next(3) == 0 ? (ulong)rng.NextInt64() : inflated[rng.Next(inflated.Length)] - (ulong)rng.Next(2);
                    BitConverter.TryWriteBytes(bytes.AsSpan((int)at, 8), value);
                    break;
                default:
                    // A random 8-byte word anywhere in the header becomes large: hits dims, offsets and type ids too.
                    bytes = (byte[])valid.Clone();
                    int pos = rng.Next((int)headerEnd - 8);
                    BitConverter.TryWriteBytes(bytes.AsSpan(pos, 8), (ulong)rng.NextInt64() >> rng.Next(64));
                    break;
            }

            try
            {
                fixed (byte* start = bytes)
                {
                    using GgufFile file = GgufFile.FromBytes(bytes, $"case{c}");
                    Exercise(file, start, bytes.Length);
                    parsed++;
                }
            }
            catch (GgufFormatException)
            {
                rejected++;
            }
            catch (Exception e)
            {
                failures.Add($"case {c} (kind {kind}): {e.GetType().Name}: {e.Message}");
            }
        }
        stopwatch.Stop();
        output.WriteLine($"{Cases} cases in {stopwatch.ElapsedMilliseconds} ms: {parsed} parsed, {rejected} rejected, {failures.Count} untyped failures");

        Assert.True(failures.Count == 0, string.Join("\n", failures.Take(20)));
        Assert.Equal(Cases, parsed + rejected);
        // Both outcomes must actually occur, or the mutations are not exercising the parser.
        Assert.InRange(rejected, Cases / 4, Cases);
        Assert.InRange(parsed, 100, Cases);
        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(20), $"{Cases} cases took {stopwatch.Elapsed}");
    }

    private static unsafe void Exercise(GgufFile file, byte* start, long length)
    {
        foreach (GgufMetadataEntry entry in file.MetadataEntries)
        {
            _ = entry.Value.Describe();
            if (entry.Value.Type == GgufValueType.Array && entry.Value.ElementType == GgufValueType.String)
            {
                _ = entry.Value.AsStringArray();
            }
        }
        foreach (GgufTensorInfo info in file.Tensors)
        {
            TensorView view = file.GetTensor(info.Name);
            Assert.True(view.Data >= start && view.Data + view.ByteLength <= start + length,
                $"tensor '{info.Name}' view [{(long)(view.Data - start)}, +{view.ByteLength}) escapes the {length}-byte file");
            Assert.Equal(GgmlTypeInfo.RowBytes(view.Type, view.Columns) * view.Rows, view.ByteLength);
            _ = view.Data[0] + view.Data[view.ByteLength - 1];
        }
    }

    private static RawGguf BuildBase()
    {
        var raw = new RawGguf(tensorCount: 3, kvCount: 7)
            .KvString("general.architecture", "gemma4")
            .KvU32("general.alignment", 64)
            .Kv("gemma4.rope.freq_base", GgufValueType.Float32).U32(0x47000000)
            .Kv("flag", GgufValueType.Bool).Bytes(1)
            .Kv("tokenizer.ggml.tokens", GgufValueType.Array).ArrayHeader(GgufValueType.String, 4).String("<pad>").String("a").String("").String("▁b")
            .Kv("tokenizer.ggml.scores", GgufValueType.Array).ArrayHeader(GgufValueType.Float32, 3).U32(0).U32(1).U32(2)
            .Kv("nested", GgufValueType.Array).ArrayHeader(GgufValueType.Array, 2)
                .ArrayHeader(GgufValueType.Int16, 2).Bytes(1, 0, 2, 0)
                .ArrayHeader(GgufValueType.String, 1).String("x")
            .Tensor("token_embd.weight", GgmlType.F32, 0, 4, 2)
            .Tensor("blk.0.attn_q.weight", GgmlType.Q8_0, 64, 32, 2)
            .Tensor("blk.0.ffn_down.weight", GgmlType.Q4_K, 192, 256);
        return raw.Data(192 + 144, alignment: 64);
    }

    private static long HeaderEnd(byte[] valid)
    {
        using GgufFile file = GgufFile.FromBytes(valid);
        Assert.Equal(3, file.Tensors.Count);
        Assert.Equal(64, file.Alignment);
        return file.DataOffset;
    }
}

using System.Globalization;
using System.Text.Json;
using Edgewise.Core.Formats.Gguf;
using Edgewise.Core.Tensors;
using Xunit;

namespace Edgewise.Core.Tests.Formats;

/// <summary>
/// Checks against an independent GGUF parser: <c>tests/TestData/gguf/reference-small.gguf</c> is what
/// <see cref="GgufWriter"/> writes for <see cref="WriteFixture"/>, and <c>reference-small.hf-gguf.json</c> is that
/// file as read by Hugging Face's <c>@huggingface/gguf</c> (script and pinned version in <c>tools/reference/gguf</c>).
/// Set EDGEWISE_REGENERATE_FIXTURES=1 to rewrite the .gguf, then rerun the script.
/// </summary>
public sealed class GgufReferenceTests
{
    private static string FixtureDirectory
    {
        get
        {
            var dir = new DirectoryInfo(AppContext.BaseDirectory);
            while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Edgewise.slnx"))) dir = dir.Parent;
            Assert.NotNull(dir);
            return Path.Combine(dir.FullName, "tests", "TestData", "gguf");
        }
    }

    private static void WriteFixture(string path)
    {
        using var writer = new GgufWriter(path);
        writer.AddString("general.architecture", "gemma4");
        writer.AddString("general.name", "reference ✓ fixture");
        writer.AddUInt32("gemma4.block_count", 2);
        writer.AddUInt32("gemma4.context_length", 131072);
        writer.AddFloat32("gemma4.rope.freq_base", 1_000_000f);
        writer.AddFloat32("gemma4.attention.layer_norm_rms_epsilon", 1e-6f);
        writer.AddBool("gemma4.use_parallel_residual", false);
        writer.AddInt32("t.i32", -7);
        writer.AddUInt8("t.u8", 255);
        writer.AddInt16("t.i16", -300);
        writer.AddUInt64("t.u64", 1UL << 60);
        writer.AddInt64("t.i64", -(1L << 50));
        writer.AddFloat64("t.f64", 0.125);
        writer.AddStringArray("tokenizer.ggml.tokens", ["<pad>", "<eos>", "<bos>", "▁the", "\n"]);
        writer.AddArray<float>("tokenizer.ggml.scores", [0f, -1f, -2.5f, 3f, 0.5f]);
        writer.AddArray<int>("tokenizer.ggml.token_type", [3, 3, 3, 1, 6]);
        writer.AddArray<bool>("gemma4.attention.sliding_window_pattern", [true, true, false]);
        writer.AddTensor("token_embd.weight", GgmlType.Q8_0, [64, 5], Pattern(2 * 34 * 5, 1));
        writer.AddTensor("blk.0.attn_norm.weight", GgmlType.F32, [64], Pattern(256, 2));
        writer.AddTensor("blk.0.ffn_down.weight", GgmlType.Q4_K, [256, 2], Pattern(2 * 144, 3));
        writer.AddTensor("blk.1.attn_q.weight", GgmlType.BF16, [64, 3, 2], Pattern(64 * 3 * 2 * 2, 4));
        writer.Write();
    }

    private static byte[] Pattern(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    [Fact]
    public void Writer_ReproducesTheFixtureByteForByte()
    {
        string fixture = Path.Combine(FixtureDirectory, "reference-small.gguf");
        if (Environment.GetEnvironmentVariable("EDGEWISE_REGENERATE_FIXTURES") == "1") WriteFixture(fixture);
        using var dir = new TempDirectory();
        WriteFixture(dir.File("again.gguf"));
        Assert.Equal(File.ReadAllBytes(fixture), File.ReadAllBytes(dir.File("again.gguf")));
    }

    [Fact]
    public void Reader_AgreesWithHuggingFaceGguf()
    {
        using JsonDocument golden = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(FixtureDirectory, "reference-small.hf-gguf.json")));
        using GgufFile file = GgufFile.Open(Path.Combine(FixtureDirectory, "reference-small.gguf"));
        JsonElement root = golden.RootElement;
        JsonElement metadata = root.GetProperty("metadata");

        Assert.Equal(file.Version, metadata.GetProperty("version").GetUInt32());
        Assert.Equal(file.Tensors.Count.ToString(CultureInfo.InvariantCulture), metadata.GetProperty("tensor_count").GetString());
        Assert.Equal(file.MetadataEntries.Count.ToString(CultureInfo.InvariantCulture), metadata.GetProperty("kv_count").GetString());
        Assert.Equal(file.DataOffset.ToString(CultureInfo.InvariantCulture), JsonText(root.GetProperty("tensorDataOffset")));

        int compared = 0;
        foreach (GgufMetadataEntry entry in file.MetadataEntries)
        {
            JsonElement expected = metadata.GetProperty(entry.Key);
            GgufValue value = entry.Value;
            switch (value.Type)
            {
                case GgufValueType.String: Assert.Equal(expected.GetString(), value.AsString()); break;
                case GgufValueType.Bool: Assert.Equal(expected.GetBoolean(), value.AsBool()); break;
                case GgufValueType.Float32 or GgufValueType.Float64: Assert.Equal(expected.GetDouble(), value.AsFloat64()); break;
                case GgufValueType.Array: AssertArray(expected, value); break;
                default: Assert.Equal(JsonText(expected), value.Describe()); break;
            }
            compared++;
        }
        Assert.Equal(17, compared);

        JsonElement[] infos = [.. root.GetProperty("tensorInfos").EnumerateArray()];
        Assert.Equal(file.Tensors.Count, infos.Length);
        for (int i = 0; i < infos.Length; i++)
        {
            GgufTensorInfo ours = file.Tensors[i];
            Assert.Equal(infos[i].GetProperty("name").GetString(), ours.Name);
            Assert.Equal(infos[i].GetProperty("dtype").GetInt32(), (int)ours.Type);
            Assert.Equal(infos[i].GetProperty("offset").GetString(), ours.Offset.ToString(CultureInfo.InvariantCulture));
            Assert.Equal([.. infos[i].GetProperty("shape").EnumerateArray().Select(e => long.Parse(e.GetString()!, CultureInfo.InvariantCulture))], ours.Shape);
        }
    }

    private static void AssertArray(JsonElement expected, GgufValue value)
    {
        Assert.Equal(expected.GetArrayLength(), value.ArrayLength);
        switch (value.ElementType)
        {
            case GgufValueType.String: Assert.Equal(expected.EnumerateArray().Select(e => e.GetString()), value.AsStringArray()); break;
            case GgufValueType.Float32: Assert.Equal(expected.EnumerateArray().Select(e => e.GetSingle()), value.AsArray<float>()); break;
            case GgufValueType.Int32: Assert.Equal(expected.EnumerateArray().Select(e => e.GetInt32()), value.AsArray<int>()); break;
            case GgufValueType.Bool: Assert.Equal(expected.EnumerateArray().Select(e => e.GetBoolean()), value.AsArray<bool>()); break;
            default: Assert.Fail($"fixture has no {value.ElementType} arrays"); break;
        }
    }

    // The golden writes 64-bit integers as strings and smaller ones as numbers; compare their text either way.
    private static string JsonText(JsonElement e) => e.ValueKind == JsonValueKind.String ? e.GetString()! : e.GetRawText();
}

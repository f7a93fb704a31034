using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using Edgewise.Cli.Commands;
using Edgewise.Core.Formats.Gguf;
using Edgewise.Core.Formats.Safetensors;
using Edgewise.Core.Tensors;
using Xunit;
using Xunit.Abstractions;

namespace Edgewise.Cli.Tests;

public sealed class InspectCommandTests(ITestOutputHelper log) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("edgewise-inspect-").FullName;

    private static readonly string ChatTemplate = string.Concat(Enumerable.Repeat("{{ bos_token }}{% for m in messages %}", 40));

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string SmallGguf(long hugeTensorBytes = 0)
    {
        string path = Path.Combine(_dir, hugeTensorBytes > 0 ? "big.gguf" : "small.gguf");
        using var writer = new GgufWriter(path);
        writer.AddString("general.architecture", "gemma4");
        writer.AddString("tokenizer.chat_template", ChatTemplate);
        writer.AddUInt32("gemma4.block_count", 2);
        writer.AddFloat32("gemma4.rope.freq_base", 1_000_000f);
        // The big file carries a Gemma-sized vocabulary, so the timing includes walking 262k strings.
        int vocab = hugeTensorBytes > 0 ? 262_144 : 1000;
        writer.AddStringArray("tokenizer.ggml.tokens", [.. Enumerable.Range(0, vocab).Select(i => $"tok{i}")]);
        writer.AddArray<int>("tokenizer.ggml.token_type", [.. Enumerable.Range(0, vocab).Select(i => i < 3 ? 3 : i < 259 ? 6 : 1)]);
        writer.AddArray<float>("tokenizer.ggml.scores", [float.NegativeInfinity, 0f, -1f]);
        writer.AddArray<int>("gemma4.attention.sliding_window_pattern", [1, 1, 1, 1, 1, 0, 1, 1]);
        writer.AddTensor("blk.0.attn_q.weight", GgmlType.Q8_0, [64, 4], new byte[4 * 2 * 34]);
        if (hugeTensorBytes > 0)
        {
            // Sparse: the writer seeks over data it is not given, so the file costs no disk and no write time.
            long rows = hugeTensorBytes / (8192 * 2);
            for (int i = 0; i < 3; i++) writer.AddTensor($"blk.{i}.ffn_up.weight", GgmlType.F16, [8192, rows], writeData: null);
        }
        writer.AddTensor("output_norm.weight", GgmlType.F32, [4], new byte[16]);
        writer.Write();
        return path;
    }

    private static (int Code, string Output, string Error) Run(string path, bool json = false, bool rich = false)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = InspectCommand.Run(path, json, rich, output, error);
        return (code, output.ToString(), error.ToString());
    }

    [Fact]
    public void PlainText_ShowsMetadataAbbreviatedAndTheTensorTable()
    {
        (int code, string text, string error) = Run(SmallGguf());
        Assert.Equal(0, code);
        Assert.Equal("", error);
        Assert.Contains("GGUF v3", text);
        Assert.Contains("architecture  gemma4", text);
        Assert.Contains("gemma4.block_count", text);
        Assert.Matches(@"tokenizer\.ggml\.tokens\s+String\[1000\]\s+""tok0"", ""tok1"", ""tok2"", \.\.\.", text);
        Assert.DoesNotContain("tok3", text);    // vocabularies are summarised, not dumped
        Assert.Matches(@"tokenizer\.ggml\.token_type\s+Int32\[1000\]\s+normal 741, control 3, byte 256", text);
        Assert.Contains("-Infinity, 0, -1", text);
        Assert.Contains($"({ChatTemplate.Length} chars)", text);  // the long chat template is cut
        Assert.Matches(@"blk\.0\.attn_q\.weight\s+Q8_0\s+\[64, 4\]\s+272\s+\d+", text);
        Assert.Matches(@"output_norm\.weight\s+F32\s+\[4\]\s+16", text);
        Assert.Contains("parameters", text);
        Assert.DoesNotContain("╭", text);       // no box drawing when redirected
    }

    [Fact]
    public void Json_IsStructuredAndParses()
    {
        (int code, string text, _) = Run(SmallGguf(), json: true);
        Assert.Equal(0, code);
        using JsonDocument doc = JsonDocument.Parse(text);
        JsonElement root = doc.RootElement;
        Assert.Equal("gguf", root.GetProperty("format").GetString());
        Assert.Equal(3, root.GetProperty("version").GetInt32());
        JsonElement metadata = root.GetProperty("metadata");
        Assert.Equal("gemma4", metadata.GetProperty("general.architecture").GetString());
        Assert.Equal(2, metadata.GetProperty("gemma4.block_count").GetInt32());
        Assert.Equal(1_000_000, metadata.GetProperty("gemma4.rope.freq_base").GetDouble());
        JsonElement tokens = metadata.GetProperty("tokenizer.ggml.tokens");
        Assert.Equal("String", tokens.GetProperty("element_type").GetString());
        Assert.Equal(1000, tokens.GetProperty("length").GetInt32());
        Assert.Equal(["tok0", "tok1", "tok2"], tokens.GetProperty("head").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal("-Infinity", metadata.GetProperty("tokenizer.ggml.scores").GetProperty("head")[0].GetString());
        Assert.Equal(6, metadata.GetProperty("gemma4.attention.sliding_window_pattern").GetProperty("head").GetArrayLength());
        JsonElement[] tensors = [.. root.GetProperty("tensors").EnumerateArray()];
        Assert.Equal(["blk.0.attn_q.weight", "output_norm.weight"], tensors.Select(t => t.GetProperty("name").GetString()));
        Assert.Equal("Q8_0", tensors[0].GetProperty("type").GetString());
        Assert.Equal([64L, 4L], tensors[0].GetProperty("shape").EnumerateArray().Select(e => e.GetInt64()));
        Assert.Equal(272, tensors[0].GetProperty("bytes").GetInt64());
        Assert.Equal(2, root.GetProperty("tensor_count").GetInt32());
        Assert.Equal(root.GetProperty("data_offset").GetInt64(), tensors[0].GetProperty("offset").GetInt64());
        Assert.Equal(64 * 4 + 4, root.GetProperty("parameters").GetInt64());
    }

    [Fact]
    public void RichOutput_UsesSpectreTables()
    {
        (int code, string text, _) = Run(SmallGguf(), rich: true);
        Assert.Equal(0, code);
        Assert.Contains("╭", text);
        Assert.Contains("blk.0.attn_q.weight", text);
        Assert.Contains("272 B", text);
    }

    [Fact]
    public void ThroughTheCommandLineParser_JsonOptionBinds()
    {
        string path = SmallGguf();
        var output = new StringWriter();
        int code = InspectCommand.Create().Parse([path, "--json"]).Invoke(new InvocationConfiguration { Output = output, Error = new StringWriter() });
        Assert.Equal(0, code);
        using JsonDocument doc = JsonDocument.Parse(output.ToString());
        Assert.Equal(path, doc.RootElement.GetProperty("path").GetString());
    }

    [Fact]
    public void MultiGigabyteFile_IsInspectedFromTheHeaderInUnderASecond()
    {
        Run(SmallGguf());   // warm up the JIT so the timing is of the work, not of compiling it
        const long tensorBytes = 2L << 30;
        string path = SmallGguf(tensorBytes);
        Assert.True(new FileInfo(path).Length > 6L << 30);

        var stopwatch = Stopwatch.StartNew();
        (int code, string text, string error) = Run(path);
        stopwatch.Stop();
        log.WriteLine($"inspect of a {new FileInfo(path).Length >> 20} MiB GGUF took {stopwatch.Elapsed.TotalMilliseconds:F1} ms");

        Assert.True(code == 0, error);
        Assert.Matches(@"blk\.2\.ffn_up\.weight\s+F16\s+\[8192, 131072\]\s+2147483648", text);
        Assert.Contains("6.00 GiB", text);
        Assert.Contains("String[262144]", text);
        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(1), $"inspect took {stopwatch.Elapsed}");
    }

    [Fact]
    public void ShardedSafetensorsDirectory()
    {
        var map = new Dictionary<string, string>();
        for (int shard = 1; shard <= 2; shard++)
        {
            string name = $"model-0000{shard}-of-00002.safetensors";
            var writer = new SafetensorsWriter(Path.Combine(_dir, name));
            writer.AddMetadata("format", "pt");
            string tensor = $"model.language_model.layers.{shard}.mlp.gate_proj.weight";
            writer.AddTensor(tensor, SafetensorsDtype.BF16, [6, 4], new byte[48]);
            map[tensor] = name;
            writer.Write();
        }
        SafetensorsWriter.WriteIndex(Path.Combine(_dir, SafetensorsCheckpoint.IndexFileName), map, 96);

        (int code, string text, string error) = Run(_dir);
        Assert.True(code == 0, error);
        Assert.Contains("safetensors", text);
        Assert.Matches(@"model\.language_model\.layers\.2\.mlp\.gate_proj\.weight\s+BF16\s+\[6, 4\]\s+48\s+model-00002-of-00002\.safetensors@\d+", text);
        Assert.Matches(@"format\s+String\s+pt", text);

        (_, string json, _) = Run(Path.Combine(_dir, "model-00001-of-00002.safetensors"), json: true);
        using JsonDocument doc = JsonDocument.Parse(json);
        Assert.Equal("hf", doc.RootElement.GetProperty("shape_order").GetString());
        Assert.Equal(1, doc.RootElement.GetProperty("shards").GetInt32());
        Assert.False(doc.RootElement.GetProperty("tensors")[0].TryGetProperty("shard", out _));
        Assert.Equal(24, doc.RootElement.GetProperty("parameters").GetInt64());
    }

    [Fact]
    public void BadInput_ExitsWithOneAndAMessageNamingTheFile()
    {
        string junk = Path.Combine(_dir, "junk.gguf");
        File.WriteAllBytes(junk, [0x47, 0x47, 0x55, 0x46, 1, 0, 0, 0]);
        (int code, string text, string error) = Run(junk);
        Assert.Equal(1, code);
        Assert.Equal("", text);
        Assert.Contains(junk, error);
        Assert.Contains("version 1 is not supported", error);

        (code, _, error) = Run(Path.Combine(_dir, "missing.gguf"));
        Assert.Equal(1, code);
        Assert.Contains("no such file", error);

        string notAModel = Path.Combine(_dir, "notes.txt");
        File.WriteAllText(notAModel, "hello, this is not a model file at all");
        (code, _, error) = Run(notAModel);
        Assert.Equal(1, code);
        Assert.Contains("header length", error);
    }
}

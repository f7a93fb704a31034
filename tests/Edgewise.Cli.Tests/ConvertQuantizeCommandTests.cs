using System.CommandLine;
using System.Text.Json;
using Edgewise.Cli.Commands;
using Edgewise.Core.Formats.Gguf;
using Edgewise.Core.Tensors;
using Edgewise.Models.Synthesis;
using Xunit;

namespace Edgewise.Cli.Tests;

/// <summary><c>edgewise convert</c> then <c>edgewise quantize</c> through the command line, on a tiny synthetic checkpoint.</summary>
public sealed class ConvertQuantizeCommandTests : IDisposable
{
    private const string Template = "{{ bos_token }}{% for m in messages %}{{ m['content'] }}{% endfor %}";
    private readonly string _dir = Directory.CreateTempSubdirectory("edgewise-convert-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Checkpoint()
    {
        Gemma4SynthSpec spec = Gemma4SynthSpec.Preset("tiny");
        string hf = Path.Combine(_dir, "tiny-hf");
        Gemma4SafetensorsSynthesizer.Write(spec, hf);
        // A Gemma-shaped tokenizer.json: control pieces, byte pieces, fillers; no merges.
        var vocab = new Dictionary<string, int> { ["<pad>"] = 0, ["<eos>"] = 1, ["<bos>"] = 2, ["<unk>"] = 3 };
        for (int b = 0; b < 256; b++) vocab[$"<0x{b:X2}>"] = 4 + b;
        for (int i = vocab.Count; i < spec.Vocab; i++) vocab["tok" + i] = i;
        var added = new[] { "<pad>", "<eos>", "<bos>", "<unk>" }.Select((c, id) => new { id, content = c, special = true });
        var json = new
        {
            added_tokens = added,
            normalizer = new { type = "Replace", pattern = new { String = " " }, content = "\u2581" },
            model = new { type = "BPE", byte_fallback = true, unk_token = "<unk>", vocab, merges = Array.Empty<string>() },
        };
        File.WriteAllText(Path.Combine(hf, "tokenizer.json"), JsonSerializer.Serialize(json));
        File.WriteAllText(Path.Combine(hf, "tokenizer_config.json"), JsonSerializer.Serialize(new { chat_template = Template, bos_token = "<bos>" }));
        return hf;
    }

    private static int Invoke(Command command, params string[] args) => command.Parse(args).Invoke();

    [Fact]
    public void Convert_then_quantize_writes_llama_cpp_typed_files_with_tokenizer_and_template()
    {
        string hf = Checkpoint(), q8 = Path.Combine(_dir, "tiny-q8_0.gguf"), q4 = Path.Combine(_dir, "tiny-q4_k_m.gguf");
        Assert.Equal(0, Invoke(ConvertCommand.Create(), hf, "--out", q8, "--type", "q8_0", "--ple-type", "q4_0", "--threads", "2"));
        using (GgufFile file = GgufFile.Open(q8))
        {
            Assert.Equal("gemma4", file.GetString("general.architecture"));
            Assert.Equal("tiny-hf", file.GetString("general.name"));
            Assert.Equal(7u, file.GetUInt32("general.file_type"));
            Assert.Equal(Template, file.GetString("tokenizer.chat_template"));
            Assert.Equal(1024, file.GetStringArray("tokenizer.ggml.tokens").Length);
            Assert.Equal(GgmlType.Q8_0, file.GetTensor("blk.0.attn_q.weight").Type);
            Assert.Equal(GgmlType.Q4_0, file.GetTensor("per_layer_token_embd.weight").Type);
            Assert.Equal(GgmlType.F32, file.GetTensor("blk.0.attn_norm.weight").Type);
        }

        Assert.Equal(0, Invoke(QuantizeCommand.Create(), q8, q4, "--type", "q4_k_m", "--threads", "2"));
        using (GgufFile file = GgufFile.Open(q4))
        {
            Assert.Equal(15u, file.GetUInt32("general.file_type"));
            Assert.Equal(2u, file.GetUInt32("general.quantization_version"));
            Assert.Equal(Template, file.GetString("tokenizer.chat_template"));
            // Hidden 128 is not a whole Q4_K block: llama-quantize's fallbacks, Q5_0 for Q4_K rows and Q8_0 for Q6_K ones.
            Assert.Equal(GgmlType.Q5_0, file.GetTensor("blk.1.attn_q.weight").Type);
            Assert.Equal(GgmlType.Q8_0, file.GetTensor("token_embd.weight").Type);
        }
    }

    [Fact]
    public void Bad_type_and_missing_checkpoint_fail_with_a_message_and_a_usage_exit_code()
    {
        var error = new StringWriter();
        TextWriter previous = Console.Error;
        Console.SetError(error);
        try
        {
            Assert.Equal(2, Invoke(QuantizeCommand.Create(), Path.Combine(_dir, "none.gguf"), Path.Combine(_dir, "out.gguf"), "--type", "q3_k"));
            Assert.Equal(2, Invoke(ConvertCommand.Create(), Path.Combine(_dir, "no-such-dir"), "--out", Path.Combine(_dir, "x.gguf")));
        }
        finally
        {
            Console.SetError(previous);
        }
        Assert.Contains("Unknown model type 'q3_k'", error.ToString());
        Assert.Contains("No such directory", error.ToString());
    }

    [Fact]
    public void Synth_of_an_impossible_shape_or_dtype_fails_with_the_reason_and_writes_nothing()
    {
        var error = new StringWriter();
        TextWriter previous = Console.Error;
        Console.SetError(error);
        string output = Path.Combine(_dir, "never.gguf");
        try
        {
            // Six layers with the E2B preset's 20 KV-shared ones leave no layer to own a KV cache.
            Assert.Equal(2, Invoke(SynthCommand.Create(), "--shape", "e2b", "--layers", "6", "--out", output));
            Assert.Equal(2, Invoke(SynthCommand.Create(), "--dtype", "q3_k", "--out", output));
        }
        finally
        {
            Console.SetError(previous);
        }
        Assert.Contains("edgewise synth: Invalid synthetic model shape: at least 2 layers must own their KV cache.", error.ToString());
        Assert.Contains("Unknown --dtype 'q3_k'", error.ToString());
        Assert.DoesNotContain("   at ", error.ToString());
        Assert.False(File.Exists(output));
    }
}

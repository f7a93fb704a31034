using System.CommandLine;
using Edgewise.Cli.Commands;
using Edgewise.Core.Tensors;
using Edgewise.Models.Synthesis;
using Xunit;

namespace Edgewise.Cli.Tests;

/// <summary><c>--ple</c>, <c>--ple-cache</c> and <c>--weights</c> change where weights live, never the logits; <c>--kv-cache f16</c> only rounds keys and values.</summary>
public sealed class ModelLoadArgumentsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("edgewise-load-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static int Invoke(params string[] args)
    {
        var root = new RootCommand { LogitsCommand.Create() };
        return root.Parse(args).Invoke(new InvocationConfiguration { Output = TextWriter.Null, Error = TextWriter.Null });
    }

    private string TinyModel()
    {
        string model = Path.Combine(_dir, "tiny.gguf");
        // Q5_0: a format whose rows no placement repacks. Q4_0 and Q8_0 rows are interleaved under --weights hugepages,
        // which changes only the order of float sums (the model tests bound that); here every placement must give
        // the same bytes.
        Gemma4GgufSynthesizer.Write(Gemma4SynthSpec.Preset("tiny") with { Dtype = GgmlType.Q5_0, Seed = 5 }, model);
        return model;
    }

    [Fact]
    public void Placement_options_give_byte_identical_logits()
    {
        string model = TinyModel();
        string[][] variants =
        [
            [],
            ["--ple", "resident"],
            ["--ple", "stream", "--ple-cache", "4KB", "--weights", "hugepages"],
        ];
        byte[]? first = null;
        for (int i = 0; i < variants.Length; i++)
        {
            string output = Path.Combine(_dir, $"logits{i}.bin");
            Assert.Equal(0, Invoke(["logits", model, "--tokens", "2,17,300,17,5", "--out", output, "--threads", "2", .. variants[i]]));
            byte[] bytes = File.ReadAllBytes(output);
            Assert.Equal(5 * 1024 * sizeof(float), bytes.Length);
            if (first is null) first = bytes;
            else Assert.Equal(first, bytes);
        }
    }

    [Fact]
    public void A_half_kv_cache_moves_the_logits_only_by_rounding()
    {
        string model = TinyModel();
        string exact = Path.Combine(_dir, "f32.bin"), half = Path.Combine(_dir, "f16.bin");
        Assert.Equal(0, Invoke("logits", model, "--tokens", "2,17,300,17,5", "--out", exact, "--kv-cache", "f32"));
        Assert.Equal(0, Invoke("logits", model, "--tokens", "2,17,300,17,5", "--out", half, "--kv-cache", "f16"));
        float[] a = Floats(exact), b = Floats(half);
        Assert.Equal(a.Length, b.Length);
        // Keys and values rounded to 11 significant bits: not the same bytes (the option is applied), but the same
        // choices. A tiny random model amplifies the rounding: ~3% of the largest logit here (real models ~1e-2).
        Assert.NotEqual(File.ReadAllBytes(exact), File.ReadAllBytes(half));
        for (int row = 0; row < 5; row++)
        {
            float[] x = a[(row * 1024)..((row + 1) * 1024)], y = b[(row * 1024)..((row + 1) * 1024)];
            Assert.Equal(Array.IndexOf(x, x.Max()), Array.IndexOf(y, y.Max()));
            double scale = x.Max(Math.Abs);
            for (int i = 0; i < x.Length; i++) Assert.True(Math.Abs(x[i] - y[i]) <= 6e-2 * scale, $"row {row} logit {i}: {x[i]} vs {y[i]}");
        }
    }

    private static float[] Floats(string path)
    {
        byte[] bytes = File.ReadAllBytes(path);
        var values = new float[bytes.Length / sizeof(float)];
        Buffer.BlockCopy(bytes, 0, values, 0, bytes.Length);
        return values;
    }

    [Theory]
    [InlineData("--kv-cache", "q4")]
    [InlineData("--ple", "everywhere")]
    [InlineData("--ple-cache", "lots")]
    [InlineData("--weights", "floppy")]
    public void Bad_values_are_rejected(string option, string value)
    {
        string model = TinyModel(), output = Path.Combine(_dir, "never.bin");
        Assert.Equal(0, Invoke("logits", model, "--tokens", "2", "--out", output));   // the same line with a good value works
        File.Delete(output);
        Assert.NotEqual(0, Invoke("logits", model, "--tokens", "2", "--out", output, option, value));
        Assert.False(File.Exists(output));
    }

    [Fact]
    public void Serve_takes_the_same_placement_options()
    {
        var root = new RootCommand { ServeCommand.Create() };
        Assert.Empty(root.Parse(["serve", "m.gguf", "--ple", "stream", "--ple-cache", "4KB", "--weights", "hugepages", "--threads", "2"]).Errors);
        Assert.NotEmpty(root.Parse(["serve", "m.gguf", "--ple", "everywhere"]).Errors);
        Assert.NotEmpty(root.Parse(["serve", "m.gguf", "--ple-cache", "lots"]).Errors);
        Assert.NotEmpty(root.Parse(["serve", "m.gguf", "--weights", "floppy"]).Errors);
        Assert.Empty(root.Parse(["serve", "m.gguf", "--kv-cache", "f16"]).Errors);
        Assert.NotEmpty(root.Parse(["serve", "m.gguf", "--kv-cache", "q4"]).Errors);
    }
}

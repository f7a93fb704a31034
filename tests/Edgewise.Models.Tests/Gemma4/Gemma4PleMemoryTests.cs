using Edgewise.Core.Formats.Gguf;
using Edgewise.Core.Tensors;
using Edgewise.Models.Common;
using Edgewise.Models.Gemma4;
using Edgewise.Models.Synthesis;
using Edgewise.Models.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace Edgewise.Models.Tests.Gemma4;

/// <summary>
/// Loading and running a PLE model never copies the per-layer embedding table: resident memory grows by less
/// than the non-PLE weights plus a margin, while the table itself is several times larger.
/// </summary>
public sealed class Gemma4PleMemoryTests(ITestOutputHelper output)
{
    // JIT, GC heap, KV cache and run buffers, the 1 MB logits row, and the kernel's 64 KB fault-around per touched row.
    private const long MarginBytes = 40L << 20;

    [Fact]
    public void Per_layer_embedding_table_stays_in_the_file()
    {
        if (!OperatingSystem.IsLinux()) return;   // reads /proc/self/status; CI runs Linux
        using var dir = new TempDirectory();
        // E2B structure with the real vocabulary and PLE width but a tiny trunk: the table dominates the file.
        // The table is a sparse hole of zeros (no disk, no time); its pages still count once mapped in.
        var spec = new Gemma4SynthSpec
        {
            Name = "ple-heavy", Hidden = 64, Layers = 6, Vocab = 262144, Heads = 2, KvHeads = 1, KvHeadsFull = 1, HeadDim = 32,
            HeadDimFull = 64, Ffn = 128, DoubleWideMlp = true, Ple = 256, SharedKvLayers = 2, FullEvery = 2, ZeroPerLayerTable = true, SlidingWindow = 16,
            Context = 128, Seed = 3, Dtype = GgmlType.Q8_0,
        };
        string path = dir.File("ple-heavy.gguf");
        Gemma4GgufSynthesizer.Write(spec, path);
        long fileBytes = new FileInfo(path).Length, pleBytes;
        using (GgufFile f = GgufFile.Open(path)) pleBytes = f.GetTensor(Gemma4TensorNames.PerLayerTokenEmbedding).ByteLength;
        long nonPleBytes = fileBytes - pleBytes;

        GC.Collect();
        (long anon0, long file0) = Rss();
        using (ILanguageModel model = Architectures.Load(path, new ModelLoadOptions { Threads = 2 }))
        using (IModelState state = model.CreateState(64))
        {
            var logits = new float[spec.Vocab];
            int[] tokens = TestShapes.Tokens(12, spec.Vocab, seed: 4);
            state.Forward(tokens.AsSpan(0, 8), logits);
            for (int i = 8; i < tokens.Length; i++) state.Forward(tokens.AsSpan(i, 1), logits);
            Assert.All(logits, v => Assert.True(float.IsFinite(v)));
            Assert.NotEqual(logits[0], logits[1]);
            (long anon1, long file1) = Rss();
            long growth = anon1 - anon0 + (file1 - file0);
            output.WriteLine($"PLE table {pleBytes >> 20} MiB, other weights {nonPleBytes >> 20} MiB; RSS growth {growth >> 20} MiB " +
                $"(anon {(anon1 - anon0) >> 20} MiB, file {(file1 - file0) >> 20} MiB)");
            Assert.True(growth < nonPleBytes + MarginBytes, $"RSS grew {growth >> 20} MiB; non-PLE weights are {nonPleBytes >> 20} MiB");
            Assert.True(pleBytes > 3 * (nonPleBytes + MarginBytes), "the test needs a table that dominates the file");
        }
    }

    private static (long Anon, long File) Rss()
    {
        long anon = 0, file = 0;
        foreach (string line in File.ReadLines("/proc/self/status"))
        {
            if (line.StartsWith("RssAnon:", StringComparison.Ordinal)) anon = Kb(line);
            else if (line.StartsWith("RssFile:", StringComparison.Ordinal)) file = Kb(line);
        }
        return (anon, file);
    }

    private static long Kb(string line) => long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) * 1024;
}

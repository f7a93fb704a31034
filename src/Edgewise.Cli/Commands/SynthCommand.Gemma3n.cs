using System.Diagnostics;
using Edgewise.Core.Formats.Gguf;
using Edgewise.Core.Tensors;
using Edgewise.Models.Synthesis;
using Edgewise.Text.Tokenization;

namespace Edgewise.Cli.Commands;

internal static partial class SynthCommand
{
    /// <summary>The dimension options that mean something for a Gemma 3n model, and where they go.</summary>
    private static readonly Dictionary<string, Func<Gemma3nSynthSpec, int, Gemma3nSynthSpec>> Gemma3nDimensions = new()
    {
        ["--hidden"] = (s, v) => s with { Hidden = v },
        ["--layers"] = (s, v) => s with { Layers = v },
        ["--vocab"] = (s, v) => s with { Vocab = v },
        ["--heads"] = (s, v) => s with { Heads = v },
        ["--kv-heads"] = (s, v) => s with { KvHeads = v },
        ["--head-dim"] = (s, v) => s with { HeadDim = v },
        ["--ffn"] = (s, v) => s with { Ffn = v },
        ["--ple"] = (s, v) => s with { Ple = v },
        ["--shared-kv-layers"] = (s, v) => s with { SharedKvLayers = v },
        ["--full-every"] = (s, v) => s with { FullEvery = v },
        ["--sliding-window"] = (s, v) => s with { SlidingWindow = v },
        ["--context"] = (s, v) => s with { Context = v },
    };

    private static int WriteGemma3n(string shape, Dictionary<string, int> dimensions, int? sparseLayers, ulong seed, GgmlType dtype,
        string? tokenizer, string path)
    {
        Gemma3nSynthSpec spec = Gemma3nSynthSpec.Preset(shape);
        foreach ((string name, int value) in dimensions)
        {
            if (!Gemma3nDimensions.TryGetValue(name, out var apply))
            {
                Console.Error.WriteLine($"{name} does not apply to gemma3n; its options are {string.Join(", ", Gemma3nDimensions.Keys)}, --sparse-layers.");
                return 2;
            }
            spec = apply(spec, value);
        }
        if (sparseLayers is int n) spec = spec with { SparseLayers = n };
        Action<GgufWriter>? writeTokenizer = null;
        if (tokenizer is not null)
        {
            GemmaTokenizer loaded = GemmaTokenizer.FromTokenizerJson(tokenizer);
            spec = spec with { Vocab = loaded.VocabularySize };
            writeTokenizer = TokenizerGgufMetadata.From(loaded).WriteTo;
        }
        spec = spec with { Seed = seed, Dtype = dtype };
        var clock = Stopwatch.StartNew();
        long bytes = Gemma3nGgufSynthesizer.Write(spec, path, writeTokenizer);
        Console.WriteLine($"wrote {path}: {bytes / 1048576.0:F1} MiB in {clock.Elapsed.TotalSeconds:F1} s " +
            $"(gemma3n, {spec.Layers} layers, hidden {spec.Hidden}, vocab {spec.Vocab}, {spec.Dtype})");
        return 0;
    }
}

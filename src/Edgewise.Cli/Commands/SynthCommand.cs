using System.CommandLine;
using System.Diagnostics;
using Edgewise.Core.Formats.Gguf;
using Edgewise.Core.Tensors;
using Edgewise.Models.Synthesis;
using Edgewise.Text.Tokenization;

namespace Edgewise.Cli.Commands;

/// <summary><c>edgewise synth</c>: a seeded random-weight model file with the real converter's names, shapes and keys.</summary>
internal static partial class SynthCommand
{
    public static Command Create()
    {
        var command = new Command("synth", "Write a seeded random-weight model (GGUF, or an HF safetensors checkpoint) for tests and benchmarks.");
        var arch = new Option<string>("--arch") { Description = "Architecture: gemma4 or gemma3n.", DefaultValueFactory = _ => "gemma4" };
        var shape = new Option<string>("--shape") { Description = "Preset: e2b, e4b, tiny; gemma4 also dense (31B), moe (26B-A4B).", DefaultValueFactory = _ => "tiny" };
        var dtype = new Option<string>("--dtype") { Description = "Matrix storage: f32, f16, bf16, q8_0, q4_0, q4_k.", DefaultValueFactory = _ => "f32" };
        var seed = new Option<ulong>("--seed") { Description = "Seed; each tensor's values depend only on it and the tensor's name.", DefaultValueFactory = _ => 1UL };
        var tokenizer = new Option<string?>("--tokenizer") { Description = "Embed this HF tokenizer.json's vocabulary (sets the vocabulary size)." };
        var output = new Option<string>("--out") { Description = "Output .gguf file (or a directory with --safetensors).", Required = true };
        var safetensors = new Option<bool>("--safetensors") { Description = "Write an HF checkpoint (config.json + model.safetensors, F32) instead of GGUF." };
        var ints = new (string Name, string Help, Func<Gemma4SynthSpec, int, Gemma4SynthSpec> Apply)[]
        {
            ("--hidden", "hidden_size", (s, v) => s with { Hidden = v }),
            ("--layers", "num_hidden_layers", (s, v) => s with { Layers = v }),
            ("--vocab", "vocab_size", (s, v) => s with { Vocab = v }),
            ("--heads", "num_attention_heads", (s, v) => s with { Heads = v }),
            ("--kv-heads", "KV heads of sliding layers", (s, v) => s with { KvHeads = v }),
            ("--kv-heads-full", "KV heads of full layers", (s, v) => s with { KvHeadsFull = v }),
            ("--head-dim", "sliding head dim", (s, v) => s with { HeadDim = v }),
            ("--head-dim-full", "full (global) head dim", (s, v) => s with { HeadDimFull = v }),
            ("--ffn", "intermediate_size", (s, v) => s with { Ffn = v }),
            ("--ple", "PLE width (0 = none)", (s, v) => s with { Ple = v }),
            ("--shared-kv-layers", "num_kv_shared_layers", (s, v) => s with { SharedKvLayers = v }),
            ("--full-every", "every n-th layer is full attention", (s, v) => s with { FullEvery = v }),
            ("--experts", "num_experts (0 = dense)", (s, v) => s with { Experts = v }),
            ("--experts-used", "top_k_experts", (s, v) => s with { ExpertsUsed = v }),
            ("--expert-ffn", "moe_intermediate_size", (s, v) => s with { ExpertFfn = v }),
            ("--sliding-window", "sliding_window", (s, v) => s with { SlidingWindow = v }),
            ("--context", "max_position_embeddings", (s, v) => s with { Context = v }),
        };
        var intOptions = ints.Select(i => new Option<int?>(i.Name) { Description = $"Override {i.Help}." }).ToArray();
        var kEqV = new Option<bool?>("--k-eq-v") { Description = "Full layers take V from the raw K projection (attention_k_eq_v)." };
        var doubleWide = new Option<bool?>("--double-wide-mlp") { Description = "KV-shared layers use a 2× MLP (use_double_wide_mlp)." };

        var sparseLayers = new Option<int?>("--sparse-layers") { Description = "gemma3n: the first n layers are activation-sparse (0.95)." };
        foreach (Option o in new Option[] { arch, shape, dtype, seed, tokenizer, output, safetensors, kEqV, doubleWide, sparseLayers }) command.Options.Add(o);
        foreach (Option<int?> o in intOptions) command.Options.Add(o);

        command.SetAction(parse =>
        {
            try
            {
                return Run(parse);
            }
            catch (ArgumentException ex)
            {
                // An impossible shape or option combination: the spec's own message names what is wrong.
                Console.Error.WriteLine($"edgewise synth: {ex.Message}");
                return 2;
            }
            catch (IOException ex)
            {
                Console.Error.WriteLine($"edgewise synth: cannot write {parse.GetValue(output)}: {ex.Message}");
                return 1;
            }
        });
        return command;

        int Run(ParseResult parse)
        {
            if (parse.GetValue(arch) == "gemma3n")
            {
                var given = new Dictionary<string, int>();
                for (int i = 0; i < ints.Length; i++)
                {
                    if (parse.GetValue(intOptions[i]) is int v) given[ints[i].Name] = v;
                }
                if (parse.GetValue(safetensors) || parse.GetValue(kEqV) is not null || parse.GetValue(doubleWide) is not null)
                {
                    Console.Error.WriteLine("gemma3n synthesis writes GGUF only and has no --k-eq-v / --double-wide-mlp.");
                    return 2;
                }
                return WriteGemma3n(parse.GetValue(shape)!, given, parse.GetValue(sparseLayers), parse.GetValue(seed),
                    ParseDtype(parse.GetValue(dtype)!), parse.GetValue(tokenizer), parse.GetValue(output)!);
            }
            if (parse.GetValue(arch) != "gemma4")
            {
                Console.Error.WriteLine($"Unknown --arch '{parse.GetValue(arch)}'; expected gemma4 or gemma3n.");
                return 2;
            }
            Gemma4SynthSpec spec = Gemma4SynthSpec.Preset(parse.GetValue(shape)!);
            for (int i = 0; i < ints.Length; i++)
            {
                if (parse.GetValue(intOptions[i]) is int v) spec = ints[i].Apply(spec, v);
            }
            if (parse.GetValue(kEqV) is bool k) spec = spec with { KEqV = k };
            if (parse.GetValue(doubleWide) is bool d) spec = spec with { DoubleWideMlp = d };
            Action<GgufWriter>? writeTokenizer = null;
            if (parse.GetValue(tokenizer) is string tok)
            {
                GemmaTokenizer loaded = GemmaTokenizer.FromTokenizerJson(tok);
                spec = spec with { Vocab = loaded.VocabularySize };
                TokenizerGgufMetadata metadata = TokenizerGgufMetadata.From(loaded);
                writeTokenizer = metadata.WriteTo;
            }
            spec = spec with { Seed = parse.GetValue(seed), Dtype = ParseDtype(parse.GetValue(dtype)!) };
            string path = parse.GetValue(output)!;
            var clock = Stopwatch.StartNew();
            long bytes = parse.GetValue(safetensors)
                ? Gemma4SafetensorsSynthesizer.Write(spec, path)
                : Gemma4GgufSynthesizer.Write(spec, path, writeTokenizer);
            Console.WriteLine($"wrote {path}: {bytes / 1048576.0:F1} MiB in {clock.Elapsed.TotalSeconds:F1} s " +
                $"({spec.Layers} layers, hidden {spec.Hidden}, vocab {spec.Vocab}, {spec.Dtype})");
            return 0;
        }
    }

    private static GgmlType ParseDtype(string text) => text.ToLowerInvariant() switch
    {
        "f32" => GgmlType.F32,
        "f16" => GgmlType.F16,
        "bf16" => GgmlType.BF16,
        "q8_0" => GgmlType.Q8_0,
        "q4_0" => GgmlType.Q4_0,
        "q4_k" => GgmlType.Q4_K,
        _ => throw new ArgumentException($"Unknown --dtype '{text}'; expected f32, f16, bf16, q8_0, q4_0 or q4_k."),
    };
}

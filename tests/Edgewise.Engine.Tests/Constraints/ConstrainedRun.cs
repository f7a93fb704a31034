using System.Text.Json;
using Edgewise.Engine.Constraints;
using Edgewise.Engine.Sampling;
using Json.Schema;

namespace Edgewise.Engine.Tests.Constraints;

/// <summary>Test driver: samples from seeded random logits under a grammar mask, as the engine's decode loop will.</summary>
internal static class ConstrainedRun
{
    public static readonly Lazy<TestTokenizer> Tokenizer = new(() => new TestTokenizer());
    public static readonly Lazy<TokenTrie> Trie = new(() => TokenTrie.Build(Tokenizer.Value));

    public static CompiledGrammar Compile(Grammar grammar) => new(grammar, Trie.Value, [Tokenizer.Value.EosId]);

    /// <summary>Generates until a stop token or <paramref name="maxTokens"/>; returns the tokens (stop token excluded) and whether it stopped.</summary>
    /// <remarks>Top-k 64 keeps the debug-build test fast; <paramref name="bias"/> lets free-text grammars reach their stop and call tokens.</remarks>
    public static (List<int> Tokens, bool Stopped) Generate(
        CompiledGrammar grammar, ulong seed, int maxTokens = 400, float scale = 3f, IReadOnlyDictionary<int, float>? bias = null)
    {
        var matcher = grammar.CreateMatcher();
        int vocabulary = grammar.Vocabulary.VocabularySize;
        var sampler = new Sampler(vocabulary, new SamplingOptions { Seed = seed, Temperature = 1f, TopK = 64, LogitBias = bias });
        var random = new Xoshiro256StarStar(seed * 7919 + 1);
        var logits = new float[vocabulary];
        // A pool of random logits read at a random rotation each step: random-looking per step, cheap to make.
        var pool = new float[4099];
        for (int i = 0; i < pool.Length; i++)
            pool[i] = (float)((random.NextDouble() - 0.5) * 2 * scale);
        var mask = new ulong[grammar.MaskWords];
        var tokens = new List<int>();
        for (int step = 0; step < maxTokens; step++)
        {
            int offset = (int)(random.NextUInt64() % (ulong)pool.Length);
            int stride = 1 + (int)(random.NextUInt64() % 64);
            for (int i = 0; i < vocabulary; i++)
                logits[i] = pool[(offset + i * stride) % pool.Length];
            matcher.ComputeMask(mask);
            int id = sampler.Sample(logits, [], mask).Id;
            if (!matcher.Accept(id))
                throw new InvalidOperationException($"matcher refused token {id} ('{Tokenizer.Value.TokenPiece(id)}') that its own mask allowed");
            if (matcher.IsTerminated)
                return (tokens, true);
            tokens.Add(id);
        }
        return (tokens, false);
    }

    private static int _schemaCount;

    public static JsonSchema Schema(string text) =>
        JsonSchema.FromText(text, baseUri: new Uri($"https://edgewise.test/schema{Interlocked.Increment(ref _schemaCount)}.json"));

    public static bool Validates(JsonSchema schema, string json, out string detail)
    {
        using var document = JsonDocument.Parse(json);
        var result = schema.Evaluate(document.RootElement, new EvaluationOptions { OutputFormat = OutputFormat.List });
        detail = result.IsValid ? "" : string.Join("; ", (result.Details ?? []).Where(d => d.Errors is not null).SelectMany(d => d.Errors!.Select(e => $"{d.InstanceLocation}: {e.Value}")));
        return result.IsValid;
    }
}

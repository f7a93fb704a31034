using System.Text.Json;
using BenchmarkDotNet.Attributes;
using Edgewise.Text.Tokenization;

namespace Edgewise.Bench;

/// <summary>
/// Encode / decode throughput on the golden corpus lines, the same work <c>tools/reference/tokenizer/bench.mjs</c>
/// times for the JS reference. Needs <c>tools/reference/tokenizer/install.sh</c> to have run.
/// Run: <c>dotnet run -c Release --project bench/Edgewise.Bench -- --filter '*Tokenizer*'</c>.
/// </summary>
[MemoryDiagnoser]
public class TokenizerBenchmarks
{
    private GemmaTokenizer _tokenizer = null!;
    private string[] _lines = [];
    private int[][] _ids = [];

    [GlobalSetup]
    public void Setup()
    {
        string root = AppContext.BaseDirectory;
        while (!File.Exists(Path.Combine(root, "Edgewise.slnx")))
            root = Path.GetDirectoryName(root) ?? throw new InvalidOperationException("run from inside the Edgewise repository");
        _tokenizer = GemmaTokenizer.FromTokenizerJson(Path.Combine(root, "tools", "reference", "tokenizer", "node_modules", "@lenml", "tokenizer-gemma3", "models", "tokenizer.json"));
        using JsonDocument goldens = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(root, "tests", "TestData", "tokenizer", "gemma3-goldens.json")));
        _lines = [.. goldens.RootElement.GetProperty("cases").EnumerateArray()
            .Where(c => c.TryGetProperty("text", out _))
            .SelectMany(c => c.GetProperty("text").GetString()!.Split('\n', StringSplitOptions.RemoveEmptyEntries))];
        _ids = [.. _lines.Select(l => _tokenizer.Encode(l))];
    }

    [Benchmark]
    public int EncodeCorpusLines()
    {
        int total = 0;
        foreach (string line in _lines)
            total += _tokenizer.Encode(line).Length;
        return total;
    }

    [Benchmark]
    public int DecodeCorpusLines()
    {
        int total = 0;
        foreach (int[] ids in _ids)
            total += _tokenizer.Decode(ids).Length;
        return total;
    }
}

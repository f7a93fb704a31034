using System.Diagnostics;
using BenchmarkDotNet.Attributes;
using Edgewise.Engine.Constraints;

namespace Edgewise.Bench;

/// <summary>
/// Grammar masks on a 262,144-token vocabulary (the Gemma 3 tokenizer.json when present): the steady-state cost per
/// generated token over a whole JSON document (mask + accept, masks cached per automaton state), the cold cost of a
/// state's first mask (a trie walk on a freshly compiled grammar), and the one-off trie build.
/// </summary>
[MemoryDiagnoser]
public class ConstraintBenchmarks
{
    private const string Schema = """
        {"type":"object","properties":{
          "name":{"type":"string"},"age":{"type":"integer"},"email":{"type":["string","null"]},
          "tags":{"type":"array","items":{"type":"string"},"maxItems":8},
          "address":{"type":"object","properties":{"street":{"type":"string"},"city":{"type":"string"},"zip":{"type":"string"}},"required":["street","city"]},
          "status":{"enum":["active","inactive","banned"]},"score":{"type":"number"}},
         "required":["name","age","tags","address","status"]}
        """;

    private const string Document =
        """{"name": "Ada Lovelace", "age": 36, "email": null, "tags": ["math", "poetry", "engines"], "address": {"street": "12 St James's Square", "city": "London"}, "status": "active", "score": 98.5}""";

    private ConstraintVocabulary _vocabulary = null!;
    private TokenTrie _trie = null!;
    private Grammar _grammar = null!;
    private CompiledGrammar _compiled = null!;
    private GrammarMatcher _matcher = null!;
    private int[] _tokens = [];
    private ulong[] _mask = [];
    private GrammarMatcher _cold = null!;

    public static int TokensPerDocument { get; private set; }

    [GlobalSetup]
    public void Setup()
    {
        _vocabulary = ConstraintVocabulary.Load();
        var watch = Stopwatch.StartNew();
        _trie = TokenTrie.Build(_vocabulary);
        Console.WriteLine($"// vocabulary: {_vocabulary.Source}, {_vocabulary.VocabularySize} ids; trie: {_trie.NodeCount} nodes built in {watch.ElapsedMilliseconds} ms");
        _grammar = JsonSchemaGrammar.FromSchema(Schema);
        _compiled = new CompiledGrammar(_grammar, _trie, [_vocabulary.EosId]);
        _matcher = _compiled.CreateMatcher();
        _tokens = _vocabulary.Encode(Document);
        TokensPerDocument = _tokens.Length;
        _mask = new ulong[_compiled.MaskWords];
        Console.WriteLine($"// document: {_tokens.Length} tokens");
        GenerateDocument(); // warm the automaton and mask cache
        Console.WriteLine($"// automaton states after one document: {_compiled.StateCount}");
    }

    /// <summary>Mask + accept for every token of the document (the token count is printed in setup: divide by it).</summary>
    [Benchmark]
    public int WarmMaskAndAccept_WholeDocument() => GenerateDocument();

    private int GenerateDocument()
    {
        _matcher.Reset();
        int allowed = 0;
        foreach (int id in _tokens)
        {
            _matcher.ComputeMask(_mask);
            allowed += (int)(_mask[id >> 6] >> (id & 63)) & 1;
            if (!_matcher.Accept(id))
                throw new InvalidOperationException($"grammar rejected token {id} '{_vocabulary.TokenPiece(id)}'");
        }
        return allowed;
    }

    [IterationSetup(Target = nameof(ColdMask_InsideString))]
    public void ColdSetup()
    {
        _cold = new CompiledGrammar(_grammar, _trie, [_vocabulary.EosId]).CreateMatcher();
        _cold.AcceptBytes("{\"name\": \"Ad"u8);
    }

    /// <summary>First mask of a state inside a string: nearly the whole vocabulary is allowed, so the walk visits most of the trie.</summary>
    [Benchmark]
    public void ColdMask_InsideString() => _cold.ComputeMask(_mask);

    [IterationSetup(Target = nameof(ColdMask_AfterObjectOpen))]
    public void ColdSetupKey()
    {
        _cold = new CompiledGrammar(_grammar, _trie, [_vocabulary.EosId]).CreateMatcher();
        _cold.AcceptBytes("{"u8);
    }

    /// <summary>First mask right after '{': only whitespace and the start of "name" fit, so most subtrees are pruned at the root.</summary>
    [Benchmark]
    public void ColdMask_AfterObjectOpen() => _cold.ComputeMask(_mask);
}

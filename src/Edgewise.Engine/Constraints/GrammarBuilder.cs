using System.Text;

namespace Edgewise.Engine.Constraints;

/// <summary>
/// Builds a <see cref="Grammar"/>: declare rules, then add alternatives as lists of symbols. Byte sets and token
/// pieces are interned. Every declared rule needs at least one alternative, and the grammar must be productive
/// (each rule can derive a finite string) so a matcher never reaches a dead end.
/// </summary>
public sealed class GrammarBuilder
{
    private readonly List<string> _ruleNames = [];
    private readonly List<List<GrammarSymbol[]>> _alternatives = [];
    private readonly List<ByteSet> _byteSets = [];
    private readonly Dictionary<ByteSet, int> _byteSetIds = [];
    private readonly List<string> _tokenPieces = [];
    private readonly Dictionary<string, int> _tokenIds = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _ruleIds = new(StringComparer.Ordinal);

    /// <summary>Declares a rule; names are made unique by a numeric suffix.</summary>
    public int DeclareRule(string name)
    {
        string unique = name;
        for (int n = 2; _ruleIds.ContainsKey(unique); n++)
            unique = name + "_" + n;
        _ruleIds.Add(unique, _ruleNames.Count);
        _ruleNames.Add(unique);
        _alternatives.Add([]);
        return _ruleNames.Count - 1;
    }

    /// <summary>Adds one alternative (an empty list is the empty string).</summary>
    public void AddAlternative(int rule, IEnumerable<GrammarSymbol> symbols)
    {
        foreach (var s in symbols)
        {
            if (s.Kind == SymbolKind.End)
                throw new ArgumentException("End symbols are added by the builder", nameof(symbols));
        }
        _alternatives[rule].Add([.. symbols]);
    }

    /// <summary>Declares a rule with the given alternatives and returns its id.</summary>
    public int Rule(string name, params IEnumerable<GrammarSymbol>[] alternatives)
    {
        int rule = DeclareRule(name);
        foreach (var alternative in alternatives)
            AddAlternative(rule, alternative);
        return rule;
    }

    public GrammarSymbol Bytes(ByteSet set)
    {
        if (set.IsEmpty)
            throw new ArgumentException("an empty byte set matches nothing", nameof(set));
        if (!_byteSetIds.TryGetValue(set, out int id))
        {
            id = _byteSets.Count;
            _byteSets.Add(set);
            _byteSetIds.Add(set, id);
        }
        return new GrammarSymbol(SymbolKind.Bytes, id);
    }

    public GrammarSymbol Ref(int rule) => new(SymbolKind.Rule, rule);

    /// <summary>A special token, by its exact vocabulary piece, matched as one whole token id.</summary>
    public GrammarSymbol Token(string piece)
    {
        if (!_tokenIds.TryGetValue(piece, out int id))
        {
            id = _tokenPieces.Count;
            _tokenPieces.Add(piece);
            _tokenIds.Add(piece, id);
        }
        return new GrammarSymbol(SymbolKind.Token, id);
    }

    /// <summary>The UTF-8 bytes of <paramref name="text"/>, one symbol per byte.</summary>
    public IEnumerable<GrammarSymbol> Literal(string text)
    {
        var symbols = new List<GrammarSymbol>();
        foreach (byte b in Encoding.UTF8.GetBytes(text))
            symbols.Add(Bytes(ByteSet.Of(b)));
        return symbols;
    }

    public Grammar Build(int root)
    {
        if ((uint)root >= (uint)_ruleNames.Count)
            throw new ArgumentOutOfRangeException(nameof(root), root, $"expected one of the {_ruleNames.Count} declared rules");
        var symbols = new List<GrammarSymbol>();
        var starts = new int[_alternatives.Count][];
        for (int rule = 0; rule < _alternatives.Count; rule++)
        {
            if (_alternatives[rule].Count == 0)
                throw new InvalidOperationException($"grammar rule '{_ruleNames[rule]}' has no alternatives");
            starts[rule] = new int[_alternatives[rule].Count];
            for (int a = 0; a < _alternatives[rule].Count; a++)
            {
                starts[rule][a] = symbols.Count;
                foreach (var s in _alternatives[rule][a])
                {
                    if (s.Kind == SymbolKind.Rule && (uint)s.Value >= (uint)_ruleNames.Count)
                        throw new InvalidOperationException($"grammar rule '{_ruleNames[rule]}' refers to undeclared rule {s.Value}");
                    symbols.Add(s);
                }
                symbols.Add(new GrammarSymbol(SymbolKind.End, 0));
            }
        }
        return new Grammar([.. symbols], starts, [.. _ruleNames], [.. _byteSets], [.. _tokenPieces], root);
    }
}

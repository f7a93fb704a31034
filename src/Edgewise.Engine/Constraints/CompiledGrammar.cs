using System.Runtime.InteropServices;

namespace Edgewise.Engine.Constraints;

/// <summary>
/// A <see cref="Grammar"/> bound to a vocabulary: the shared, lazily built automaton behind every
/// <see cref="GrammarMatcher"/> of that grammar. A matcher state is a set of parse stacks (a graph-structured stack:
/// stack frames are hash-consed (position, parent) nodes, and tail calls reuse the caller's frame so repetitions do
/// not deepen it). Each distinct set is interned once as an automaton state; byte and token transitions between
/// states are memoised, and so is each state's token mask, so after warm-up a mask costs one 32 KiB copy on a
/// 262,144-token vocabulary. A new state's mask walks the <see cref="TokenTrie"/> with the automaton, pruning every
/// subtree whose first byte the grammar rejects. Thread-safe: all automaton growth happens under one lock.
/// </summary>
public sealed class CompiledGrammar
{
    private const int MaxClosureNodes = 1 << 20;

    private readonly Lock _gate = new();
    private readonly GrammarSymbol[] _symbols;
    private readonly int[][] _alternatives;
    private readonly ByteSet[] _byteSets;
    private readonly int[] _tokenIdOfPiece;          // grammar token index -> vocabulary id
    private readonly ulong[] _stopMask;              // [words] stop tokens, allowed once the grammar can end
    private readonly long _maskCacheLimit;
    private long _maskCacheBytes;

    // Hash-consed stack frames: node = (symbol position, parent node or -1 for the bottom of the stack).
    private readonly List<int> _nodePos = [];
    private readonly List<int> _nodeParent = [];
    private readonly Dictionary<long, int> _nodeIds = [];

    private readonly List<State> _states = [];
    private readonly Dictionary<int[], int> _stateIds = new(StateKeyComparer.Instance);

    // Scratch for closures and trie walks (used under the lock only).
    private readonly Stack<(int Pos, int Parent)> _work = new();
    private readonly HashSet<int> _visited = [];
    private readonly List<int> _tops = [];
    private readonly int[] _walkNodes;
    private readonly int[] _walkStates;

    public CompiledGrammar(Grammar grammar, TokenTrie vocabulary, IEnumerable<int> stopTokenIds, long maskCacheBytes = 64L << 20)
    {
        ArgumentNullException.ThrowIfNull(grammar);
        ArgumentNullException.ThrowIfNull(vocabulary);
        ArgumentNullException.ThrowIfNull(stopTokenIds);
        Grammar = grammar;
        Vocabulary = vocabulary;
        _symbols = grammar.Symbols;
        _alternatives = grammar.Alternatives;
        _byteSets = grammar.ByteSets;
        _maskCacheLimit = maskCacheBytes;
        MaskWords = (vocabulary.VocabularySize + 63) >> 6;

        _tokenIdOfPiece = new int[grammar.TokenPieces.Count];
        for (int i = 0; i < _tokenIdOfPiece.Length; i++)
        {
            string piece = grammar.TokenPieces[i];
            int id = vocabulary.Tokenizer.PieceToId(piece)
                ?? throw new GrammarException($"grammar needs special token '{piece}', which the vocabulary lacks");
            if (!vocabulary.IsSpecial(id))
                throw new GrammarException($"grammar needs '{piece}' as a special token, but vocabulary id {id} is an ordinary piece");
            _tokenIdOfPiece[i] = id;
        }
        _stopMask = new ulong[MaskWords];
        foreach (int id in stopTokenIds)
        {
            if ((uint)id >= (uint)vocabulary.VocabularySize)
                throw new ArgumentOutOfRangeException(nameof(stopTokenIds), id, $"stop token outside the vocabulary of {vocabulary.VocabularySize}");
            _stopMask[id >> 6] |= 1UL << (id & 63);
        }

        int walkCapacity = 256 * (vocabulary.MaxDepth + 2);
        _walkNodes = new int[walkCapacity];
        _walkStates = new int[walkCapacity];

        lock (_gate)
        {
            foreach (int start in _alternatives[grammar.Root])
                _work.Push((start, -1));
            InitialState = FinishState();
        }
        if (InitialState < 0)
            throw new GrammarException("grammar matches nothing");
    }

    public Grammar Grammar { get; }

    public TokenTrie Vocabulary { get; }

    /// <summary>Length in ulongs of a token mask (one bit per vocabulary id).</summary>
    public int MaskWords { get; }

    /// <summary>Automaton states discovered so far (grows as matchers explore).</summary>
    public int StateCount { get { lock (_gate) return _states.Count; } }

    internal int InitialState { get; }

    public GrammarMatcher CreateMatcher() => new(this);

    internal bool IsStopToken(int id) => (uint)id < (uint)Vocabulary.VocabularySize && (_stopMask[id >> 6] & (1UL << (id & 63))) != 0;

    internal bool IsAccepting(int state) { lock (_gate) return _states[state].Accepting; }

    internal bool HasContinuation(int state) { lock (_gate) return _states[state].Nodes.Length > 0; }

    /// <summary>The state after <paramref name="text"/>, or -1 if the grammar rejects it.</summary>
    internal int StepBytes(int state, ReadOnlySpan<byte> text)
    {
        lock (_gate)
        {
            foreach (byte b in text)
            {
                state = StepByteLocked(state, b);
                if (state < 0)
                    return -1;
            }
            return state;
        }
    }

    /// <summary>The state after special token <paramref name="tokenId"/>, or -1.</summary>
    internal int StepSpecialToken(int state, int tokenId)
    {
        lock (_gate)
        {
            var s = _states[state];
            s.TokenNext ??= [];
            if (s.TokenNext.TryGetValue(tokenId, out int next))
                return next;
            foreach (int node in s.Nodes)
            {
                var symbol = _symbols[_nodePos[node]];
                if (symbol.Kind == SymbolKind.Token && _tokenIdOfPiece[symbol.Value] == tokenId)
                    _work.Push((_nodePos[node] + 1, _nodeParent[node]));
            }
            next = FinishState();
            s.TokenNext[tokenId] = next;
            return next;
        }
    }

    /// <summary>Writes the allowed-token bit set of <paramref name="state"/> (stop tokens included when it can end).</summary>
    internal void ComputeMask(int state, Span<ulong> allowed)
    {
        if (allowed.Length < MaskWords)
            throw new ArgumentException($"expected a mask of {MaskWords} words, found {allowed.Length}", nameof(allowed));
        lock (_gate)
        {
            var s = _states[state];
            if (s.Mask is not null)
            {
                s.Mask.CopyTo(allowed);
                return;
            }
            allowed[..MaskWords].Clear();
            WalkTrie(state, allowed);
            foreach (int node in s.Nodes)
            {
                var symbol = _symbols[_nodePos[node]];
                if (symbol.Kind == SymbolKind.Token)
                {
                    int id = _tokenIdOfPiece[symbol.Value];
                    allowed[id >> 6] |= 1UL << (id & 63);
                }
            }
            if (s.Accepting)
            {
                for (int w = 0; w < MaskWords; w++)
                    allowed[w] |= _stopMask[w];
            }
            long bytes = MaskWords * sizeof(ulong);
            if (_maskCacheBytes + bytes <= _maskCacheLimit)
            {
                s.Mask = allowed[..MaskWords].ToArray();
                _maskCacheBytes += bytes;
            }
        }
    }

    private void WalkTrie(int state, Span<ulong> allowed)
    {
        var trie = Vocabulary;
        int top = 0;
        _walkNodes[0] = 0;
        _walkStates[0] = state;
        top = 1;
        while (top > 0)
        {
            top--;
            int node = _walkNodes[top];
            int nodeState = _walkStates[top];
            int first = trie.FirstChild(node);
            int end = first + trie.ChildCount(node);
            for (int child = first; child < end; child++)
            {
                int next = StepByteLocked(nodeState, trie.EdgeByte(child));
                if (next < 0)
                    continue; // the grammar rejects this byte: the whole subtree is out
                foreach (int id in trie.TokensAt(child))
                    allowed[id >> 6] |= 1UL << (id & 63);
                if (trie.ChildCount(child) > 0)
                {
                    _walkNodes[top] = child;
                    _walkStates[top] = next;
                    top++;
                }
            }
        }
    }

    private int StepByteLocked(int state, byte b)
    {
        var s = _states[state];
        if (s.ByteNext is null)
        {
            s.ByteNext = new int[256];
            Array.Fill(s.ByteNext, -2);
        }
        int next = s.ByteNext[b];
        if (next != -2)
            return next;
        foreach (int node in s.Nodes)
        {
            int pos = _nodePos[node];
            var symbol = _symbols[pos];
            if (symbol.Kind == SymbolKind.Bytes && _byteSets[symbol.Value].Contains(b))
                _work.Push((pos + 1, _nodeParent[node]));
        }
        next = FinishState();
        s.ByteNext[b] = next;
        return next;
    }

    /// <summary>Expands the queued (position, parent) items to terminal tops and interns the resulting state (-1 if dead).</summary>
    private int FinishState()
    {
        _visited.Clear();
        _tops.Clear();
        bool accepting = false;
        while (_work.Count > 0)
        {
            var (pos, parent) = _work.Pop();
            int node = Intern(pos, parent);
            if (!_visited.Add(node))
                continue;
            if (_visited.Count > MaxClosureNodes)
            {
                _work.Clear();
                throw new GrammarException("grammar expansion does not terminate (left recursion?)");
            }
            var symbol = _symbols[pos];
            switch (symbol.Kind)
            {
                case SymbolKind.Bytes:
                case SymbolKind.Token:
                    _tops.Add(node);
                    break;
                case SymbolKind.Rule:
                    // A call in tail position returns straight to the caller's caller: no frame, no growth.
                    int ret = _symbols[pos + 1].Kind == SymbolKind.End ? parent : Intern(pos + 1, parent);
                    foreach (int start in _alternatives[symbol.Value])
                        _work.Push((start, ret));
                    break;
                default:
                    if (parent < 0)
                        accepting = true;
                    else
                        _work.Push((_nodePos[parent], _nodeParent[parent]));
                    break;
            }
        }
        if (_tops.Count == 0 && !accepting)
            return -1;
        _tops.Sort();
        var key = new int[_tops.Count + (accepting ? 1 : 0)];
        CollectionsMarshal.AsSpan(_tops).CopyTo(key);
        if (accepting)
            key[^1] = -1;
        if (_stateIds.TryGetValue(key, out int existing))
            return existing;
        int id = _states.Count;
        _states.Add(new State(_tops.ToArray(), accepting));
        _stateIds.Add(key, id);
        return id;
    }

    private int Intern(int pos, int parent)
    {
        long key = ((long)pos << 32) | (uint)(parent + 1);
        if (!_nodeIds.TryGetValue(key, out int id))
        {
            id = _nodePos.Count;
            _nodePos.Add(pos);
            _nodeParent.Add(parent);
            _nodeIds.Add(key, id);
        }
        return id;
    }

    private sealed class State(int[] nodes, bool accepting)
    {
        public readonly int[] Nodes = nodes;       // stack tops, each at a Bytes or Token symbol
        public readonly bool Accepting = accepting;
        public int[]? ByteNext;                    // [256] next state, -1 dead, -2 not yet computed
        public Dictionary<int, int>? TokenNext;
        public ulong[]? Mask;
    }

    private sealed class StateKeyComparer : IEqualityComparer<int[]>
    {
        public static readonly StateKeyComparer Instance = new();

        public bool Equals(int[]? x, int[]? y) => x.AsSpan().SequenceEqual(y);

        public int GetHashCode(int[] key)
        {
            var hash = new HashCode();
            hash.AddBytes(MemoryMarshal.AsBytes(key.AsSpan()));
            return hash.ToHashCode();
        }
    }
}

using Edgewise.Text.Tokenization;

namespace Edgewise.Engine.Constraints;

/// <summary>
/// A byte trie over the exact UTF-8 bytes of every ordinary (non-special, non-empty) token, built once per tokenizer
/// and shared by every grammar. Children of a node are contiguous and sorted by byte, so a grammar walk visits each
/// shared prefix once and skips a whole subtree when the grammar rejects its first byte.
/// Special tokens are left out: grammars accept them only as whole ids.
/// </summary>
public sealed class TokenTrie
{
    // Node 0 is the root (empty prefix). Per node: the byte on the edge into it, its children, the tokens ending at it.
    private readonly byte[] _edgeByte;
    private readonly int[] _firstChild;
    private readonly int[] _childCount;
    private readonly int[] _firstToken;
    private readonly int[] _tokenCount;
    private readonly int[] _tokenIds;
    private readonly bool[] _isSpecial;

    private TokenTrie(ITokenizer tokenizer, byte[] edgeByte, int[] firstChild, int[] childCount, int[] firstToken, int[] tokenCount, int[] tokenIds, bool[] isSpecial, int maxDepth)
    {
        Tokenizer = tokenizer;
        _edgeByte = edgeByte;
        _firstChild = firstChild;
        _childCount = childCount;
        _firstToken = firstToken;
        _tokenCount = tokenCount;
        _tokenIds = tokenIds;
        _isSpecial = isSpecial;
        MaxDepth = maxDepth;
    }

    public ITokenizer Tokenizer { get; }

    public int VocabularySize => _isSpecial.Length;

    public int NodeCount => _edgeByte.Length;

    /// <summary>Number of ordinary tokens in the trie.</summary>
    public int TokenCount => _tokenIds.Length;

    /// <summary>Length in bytes of the longest ordinary token.</summary>
    public int MaxDepth { get; }

    internal bool IsSpecial(int id) => _isSpecial[id];

    internal byte EdgeByte(int node) => _edgeByte[node];

    internal int FirstChild(int node) => _firstChild[node];

    internal int ChildCount(int node) => _childCount[node];

    internal ReadOnlySpan<int> TokensAt(int node) => _tokenIds.AsSpan(_firstToken[node], _tokenCount[node]);

    /// <param name="tokenizer">The vocabulary.</param>
    /// <param name="isAtomic">
    /// Marks further ids that grammars must see as whole tokens, not bytes: pieces the tokenizer matches atomically
    /// without calling them special (Gemma 4's user-defined markup such as <c>&lt;|tool_call&gt;</c> and <c>&lt;|"|&gt;</c>).
    /// </param>
    public static TokenTrie Build(ITokenizer tokenizer, Func<int, bool>? isAtomic = null)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        int vocabulary = tokenizer.VocabularySize;
        var isSpecial = new bool[vocabulary];
        var bytes = new byte[vocabulary][];
        var ordinary = new List<int>(vocabulary);
        int maxDepth = 0;
        for (int id = 0; id < vocabulary; id++)
        {
            isSpecial[id] = tokenizer.IsSpecial(id) || (isAtomic is not null && isAtomic(id));
            bytes[id] = tokenizer.TokenBytes(id).ToArray();
            // A token with no bytes would let a grammar loop forever without progress; it is never allowed.
            if (!isSpecial[id] && bytes[id].Length > 0)
            {
                ordinary.Add(id);
                maxDepth = Math.Max(maxDepth, bytes[id].Length);
            }
        }
        var sorted = ordinary.ToArray();
        Array.Sort(sorted, (a, b) =>
        {
            int c = bytes[a].AsSpan().SequenceCompareTo(bytes[b]);
            return c != 0 ? c : a.CompareTo(b);
        });

        var edgeByte = new List<byte> { 0 };
        var firstChild = new List<int> { 0 };
        var childCount = new List<int> { 0 };
        var firstToken = new List<int> { 0 };
        var tokenCount = new List<int> { 0 };
        // Breadth-first, so each node's children are allocated side by side.
        var queue = new Queue<(int Node, int Start, int End, int Depth)>();
        queue.Enqueue((0, 0, sorted.Length, 0));
        while (queue.Count > 0)
        {
            var (node, start, end, depth) = queue.Dequeue();
            int i = start;
            firstToken[node] = i;
            while (i < end && bytes[sorted[i]].Length == depth)
                i++;
            tokenCount[node] = i - start;
            firstChild[node] = edgeByte.Count;
            int children = 0;
            while (i < end)
            {
                byte b = bytes[sorted[i]][depth];
                int groupEnd = i + 1;
                while (groupEnd < end && bytes[sorted[groupEnd]][depth] == b)
                    groupEnd++;
                int child = edgeByte.Count;
                edgeByte.Add(b);
                firstChild.Add(0);
                childCount.Add(0);
                firstToken.Add(0);
                tokenCount.Add(0);
                queue.Enqueue((child, i, groupEnd, depth + 1));
                children++;
                i = groupEnd;
            }
            childCount[node] = children;
        }
        return new TokenTrie(tokenizer, [.. edgeByte], [.. firstChild], [.. childCount], [.. firstToken], [.. tokenCount], sorted, isSpecial, maxDepth);
    }
}

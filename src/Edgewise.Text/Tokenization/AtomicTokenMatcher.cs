using System.Buffers;

namespace Edgewise.Text.Tokenization;

/// <summary>
/// Finds control / user-defined token strings in raw text before BPE runs. Greedy longest match scanning left to
/// right over UTF-16 code units: the same rule as the reference's <c>DictionarySplitter</c> (a trie walk at each
/// position) and HF tokenizers' leftmost-longest Aho-Corasick.
/// </summary>
internal sealed class AtomicTokenMatcher
{
    // Trie edges keyed by (node << 16 | char); node 0 is the root. _tokenAt[node] is the id ending there or -1.
    private readonly Dictionary<long, int> _edges = new();
    private readonly List<int> _tokenAt = [-1];
    private readonly SearchValues<char> _firstChars;

    public AtomicTokenMatcher(IEnumerable<(string Text, int Id)> tokens)
    {
        var first = new HashSet<char>();
        foreach ((string text, int id) in tokens)
        {
            if (text.Length == 0)
                continue;
            first.Add(text[0]);
            int node = 0;
            foreach (char c in text)
            {
                long key = ((long)node << 16) | c;
                if (!_edges.TryGetValue(key, out int child))
                {
                    child = _tokenAt.Count;
                    _tokenAt.Add(-1);
                    _edges.Add(key, child);
                }
                node = child;
            }
            // The first id wins for duplicate strings, as the reference's Map keeps the first added token's id last
            // written; duplicates do not occur in Gemma vocabularies.
            if (_tokenAt[node] < 0)
                _tokenAt[node] = id;
        }
        Count = first.Count == 0 ? 0 : _tokenAt.Count;
        _firstChars = SearchValues.Create([.. first]);
    }

    /// <summary>Number of trie nodes (0 when there is nothing to match).</summary>
    public int Count { get; }

    /// <summary>Finds the next atomic token at or after <paramref name="from"/>.</summary>
    public bool FindNext(ReadOnlySpan<char> text, int from, out int start, out int length, out int id)
    {
        while (Count != 0 && from < text.Length)
        {
            int offset = text[from..].IndexOfAny(_firstChars);
            if (offset < 0)
                break;
            int position = from + offset;
            int matchLength = LongestAt(text, position, out int matchId);
            if (matchLength > 0)
            {
                start = position;
                length = matchLength;
                id = matchId;
                return true;
            }
            from = position + 1;
        }
        start = text.Length;
        length = 0;
        id = -1;
        return false;
    }

    private int LongestAt(ReadOnlySpan<char> text, int position, out int id)
    {
        int node = 0, best = 0;
        id = -1;
        for (int i = position; i < text.Length; i++)
        {
            if (!_edges.TryGetValue(((long)node << 16) | text[i], out node))
                break;
            int tokenId = _tokenAt[node];
            if (tokenId >= 0)
            {
                best = i - position + 1;
                id = tokenId;
            }
        }
        return best;
    }
}

namespace Edgewise.Engine.Constraints;

/// <summary>
/// One sequence's position in a <see cref="CompiledGrammar"/>: which tokens may come next, and the state after
/// each accepted token. Cheap to clone; keeps its history so speculative tokens can be rolled back.
/// Stop tokens (given to the compiled grammar) are allowed exactly when the grammar can end.
/// </summary>
public sealed class GrammarMatcher
{
    private readonly List<int> _history = [];   // state before each accepted step
    private ulong[]? _maskScratch;
    private int _state;

    internal GrammarMatcher(CompiledGrammar grammar)
    {
        Grammar = grammar;
        _state = grammar.InitialState;
    }

    public CompiledGrammar Grammar { get; }

    /// <summary>A stop token has been accepted: nothing more may follow.</summary>
    public bool IsTerminated { get; private set; }

    /// <summary>The text so far is a complete sentence of the grammar: a stop token may come now.</summary>
    public bool CanEnd => IsTerminated || Grammar.IsAccepting(_state);

    /// <summary>Nothing but a stop token can follow (or one already has).</summary>
    public bool IsComplete => IsTerminated || (Grammar.IsAccepting(_state) && !Grammar.HasContinuation(_state));

    /// <summary>Number of accepted steps (tokens or forced texts) that <see cref="Rollback"/> can undo.</summary>
    public int StepCount => _history.Count;

    /// <summary>Writes one bit per vocabulary id (bit i of word i/64): set when the token may come next.</summary>
    public void ComputeMask(Span<ulong> allowed)
    {
        if (IsTerminated)
        {
            allowed[..Grammar.MaskWords].Clear();
            return;
        }
        Grammar.ComputeMask(_state, allowed);
    }

    /// <summary>Sets the logit of every token the grammar forbids to -infinity.</summary>
    public void ApplyMask(Span<float> logits)
    {
        _maskScratch ??= new ulong[Grammar.MaskWords];
        ComputeMask(_maskScratch);
        Sampling.LogitScan.ApplyMask(logits, _maskScratch);
    }

    /// <summary>Advances by one token; returns false (and stays put) if the grammar forbids it.</summary>
    public bool Accept(int tokenId)
    {
        if (IsTerminated)
            return false;
        var trie = Grammar.Vocabulary;
        if ((uint)tokenId >= (uint)trie.VocabularySize)
            throw new ArgumentOutOfRangeException(nameof(tokenId), tokenId, $"token id outside the vocabulary of {trie.VocabularySize}");
        int next = trie.IsSpecial(tokenId)
            ? Grammar.StepSpecialToken(_state, tokenId)
            : trie.Tokenizer.TokenBytes(tokenId) is { Length: > 0 } bytes ? Grammar.StepBytes(_state, bytes) : -1;
        if (next >= 0)
        {
            _history.Add(_state);
            _state = next;
            return true;
        }
        if (Grammar.IsStopToken(tokenId) && Grammar.IsAccepting(_state))
        {
            _history.Add(_state);
            IsTerminated = true;
            return true;
        }
        return false;
    }

    /// <summary>Advances over forced text (e.g. a prefix the engine inserts); false if the grammar rejects it.</summary>
    public bool AcceptBytes(ReadOnlySpan<byte> text)
    {
        if (IsTerminated)
            return false;
        int next = Grammar.StepBytes(_state, text);
        if (next < 0)
            return false;
        _history.Add(_state);
        _state = next;
        return true;
    }

    /// <summary>Would <see cref="Accept"/> take this token? (Does not advance.)</summary>
    public bool IsAllowed(int tokenId)
    {
        var probe = Clone();
        return probe.Accept(tokenId);
    }

    /// <summary>Undoes the last <paramref name="steps"/> accepted steps.</summary>
    public void Rollback(int steps)
    {
        if ((uint)steps > (uint)_history.Count)
            throw new ArgumentOutOfRangeException(nameof(steps), steps, $"expected at most {_history.Count} steps");
        if (steps == 0)
            return;
        _state = _history[^steps];
        _history.RemoveRange(_history.Count - steps, steps);
        IsTerminated = false;
    }

    public void Reset()
    {
        _state = Grammar.InitialState;
        _history.Clear();
        IsTerminated = false;
    }

    public GrammarMatcher Clone()
    {
        var copy = new GrammarMatcher(Grammar) { _state = _state, IsTerminated = IsTerminated };
        copy._history.AddRange(_history);
        return copy;
    }
}

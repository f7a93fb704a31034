namespace Edgewise.Text.ToolCalls;

/// <summary>
/// The push protocol every dialect stream shares: deltas join a pending buffer, <see cref="Scan"/> consumes the
/// prefix it can decide and the rest waits for more input, so every decision is the same however the output is
/// split. Events leave through one coalescing <see cref="Writer"/> per call; diagnostics carry absolute offsets into
/// the whole output (<see cref="Offset"/>).
/// </summary>
internal abstract class BufferedToolCallStream : IToolCallStream
{
    private readonly List<ToolCallDiagnostic> _diagnostics = [];
    private string _pending = "";
    private int _pendingOffset;

    public IReadOnlyList<ToolCallDiagnostic> Diagnostics => _diagnostics;

    protected EventWriter Writer { get; } = new();

    public void Push(string delta, List<ToolCallEvent> events)
    {
        ArgumentNullException.ThrowIfNull(delta);
        Writer.Attach(events);
        _pending = _pending.Length == 0 ? delta : _pending + delta;
        Run(final: false);
        Writer.Flush();
    }

    public void Complete(List<ToolCallEvent> events)
    {
        Writer.Attach(events);
        Run(final: true);
        Finish(_pendingOffset + _pending.Length);
        Writer.Flush();
    }

    /// <summary>
    /// Consumes what can be decided of <paramref name="s"/> (the pending text; with <paramref name="final"/>, all
    /// there will be) and returns how many characters were consumed.
    /// </summary>
    protected abstract int Scan(string s, bool final);

    /// <summary>End of output, after the last <see cref="Scan"/>: repairs what was left open.</summary>
    /// <param name="end">The offset just past the whole output.</param>
    protected abstract void Finish(int end);

    /// <summary>The absolute output offset of index <paramref name="i"/> of the text being scanned.</summary>
    protected int Offset(int i) => _pendingOffset + i;

    /// <summary>The index in the pending text of absolute output offset <paramref name="offset"/> (inverse of <see cref="Offset"/>).</summary>
    protected int Index(int offset) => offset - _pendingOffset;

    protected void Report(int offset, string message, bool repaired) => _diagnostics.Add(new ToolCallDiagnostic(offset, message, repaired));

    private void Run(bool final)
    {
        int consumed = Scan(_pending, final);
        _pending = _pending[consumed..];
        _pendingOffset += consumed;
    }
}

using System.Text;

namespace Edgewise.Text.ToolCalls;

/// <summary>Coalesces consecutive text, reasoning and argument deltas so a push yields few events.</summary>
internal sealed class EventWriter
{
    private readonly StringBuilder _pending = new();
    private ToolCallEventKind _kind;
    private int _callIndex;
    private List<ToolCallEvent>? _sink;

    public void Attach(List<ToolCallEvent> sink) => _sink = sink;

    public void Append(ToolCallEventKind kind, int callIndex, char c)
    {
        Switch(kind, callIndex);
        _pending.Append(c);
    }

    public void Append(ToolCallEventKind kind, int callIndex, ReadOnlySpan<char> text)
    {
        if (text.IsEmpty) return;
        Switch(kind, callIndex);
        _pending.Append(text);
    }

    public void Single(ToolCallEventKind kind, int callIndex, string text)
    {
        Flush();
        _sink!.Add(new ToolCallEvent(kind, callIndex, text));
    }

    public void Flush()
    {
        if (_pending.Length == 0) return;
        _sink!.Add(new ToolCallEvent(_kind, _callIndex, _pending.ToString()));
        _pending.Clear();
    }

    private void Switch(ToolCallEventKind kind, int callIndex)
    {
        if (_pending.Length > 0 && (kind != _kind || callIndex != _callIndex)) Flush();
        _kind = kind;
        _callIndex = callIndex;
    }
}

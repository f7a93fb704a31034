namespace Edgewise.Text.ToolCalls;

/// <summary>What a streaming tool-call parser emits while model text arrives.</summary>
public enum ToolCallEventKind
{
    /// <summary>Visible answer text (<see cref="ToolCallEvent.Text"/> is the delta).</summary>
    Text,

    /// <summary>Thinking-channel text (<see cref="ToolCallEvent.Text"/> is the delta).</summary>
    Reasoning,

    /// <summary>A call begins; <see cref="ToolCallEvent.Text"/> is the function name.</summary>
    ToolCallStart,

    /// <summary>A fragment of the call's arguments as JSON text; fragments concatenate to one JSON object.</summary>
    ToolCallArguments,

    /// <summary>The call's arguments are complete.</summary>
    ToolCallEnd,
}

/// <summary>One streaming event; <see cref="CallIndex"/> numbers the calls of one response from 0.</summary>
public readonly record struct ToolCallEvent(ToolCallEventKind Kind, int CallIndex, string Text);

/// <summary>A malformation found in model output: where (character offset), what, and whether it was repaired.</summary>
public sealed record ToolCallDiagnostic(int Offset, string Message, bool Repaired);

/// <summary>A complete tool call: function name and JSON object arguments.</summary>
public sealed record ParsedToolCall(string Name, string ArgumentsJson);

/// <summary>Model output split into answer text, reasoning, tool calls and what had to be repaired.</summary>
public sealed record ParsedOutput(
    string Content,
    string Reasoning,
    IReadOnlyList<ParsedToolCall> ToolCalls,
    IReadOnlyList<ToolCallDiagnostic> Diagnostics);

/// <summary>A push parser for one response: feed text deltas as tokens are decoded, then complete at end of turn.</summary>
public interface IToolCallStream
{
    /// <summary>Consumes <paramref name="delta"/> and appends whatever events are now certain to <paramref name="events"/>.</summary>
    void Push(string delta, List<ToolCallEvent> events);

    /// <summary>End of output: flushes held-back text and repairs what was left open.</summary>
    void Complete(List<ToolCallEvent> events);

    /// <summary>Malformations found so far.</summary>
    IReadOnlyList<ToolCallDiagnostic> Diagnostics { get; }
}

/// <summary>A model family's tool-call dialect: the same interface for native tokens (Gemma 4) and prompted JSON (Gemma 3n).</summary>
public interface IToolCallParser
{
    /// <summary>A short name for logs ("gemma4", "json-fence").</summary>
    string Dialect { get; }

    /// <summary>
    /// A stream for one response. Pass the rendered <paramref name="prompt"/> when it may end inside a construct the
    /// output continues (Gemma 4 resuming after a tool response with thinking on ends with an open
    /// <c>&lt;|channel&gt;thought\n</c>, so the output starts as reasoning).
    /// </summary>
    IToolCallStream CreateStream(string? prompt = null);

    /// <summary>One-shot parse of a whole response (the same state machine as streaming, fed at once).</summary>
    ParsedOutput Parse(string text);
}

/// <summary>Helpers over event lists.</summary>
public static class ToolCallEvents
{
    /// <summary>Runs a fresh stream of <paramref name="parser"/> over the whole text.</summary>
    public static ParsedOutput ParseWhole(IToolCallParser parser, string text)
    {
        var stream = parser.CreateStream();
        var events = new List<ToolCallEvent>();
        stream.Push(text, events);
        stream.Complete(events);
        return Aggregate(events, stream.Diagnostics);
    }

    /// <summary>Folds streamed events into the final content, reasoning and calls.</summary>
    public static ParsedOutput Aggregate(IEnumerable<ToolCallEvent> events, IReadOnlyList<ToolCallDiagnostic> diagnostics)
    {
        var content = new System.Text.StringBuilder();
        var reasoning = new System.Text.StringBuilder();
        var names = new List<string>();
        var arguments = new List<System.Text.StringBuilder>();
        foreach (var e in events)
        {
            switch (e.Kind)
            {
                case ToolCallEventKind.Text: content.Append(e.Text); break;
                case ToolCallEventKind.Reasoning: reasoning.Append(e.Text); break;
                case ToolCallEventKind.ToolCallStart:
                    names.Add(e.Text);
                    arguments.Add(new System.Text.StringBuilder());
                    break;
                case ToolCallEventKind.ToolCallArguments: arguments[e.CallIndex].Append(e.Text); break;
                case ToolCallEventKind.ToolCallEnd: break;
            }
        }

        var calls = new List<ParsedToolCall>(names.Count);
        for (var i = 0; i < names.Count; i++) calls.Add(new ParsedToolCall(names[i], arguments[i].ToString()));
        return new ParsedOutput(content.ToString(), reasoning.ToString(), calls, diagnostics.ToList());
    }
}

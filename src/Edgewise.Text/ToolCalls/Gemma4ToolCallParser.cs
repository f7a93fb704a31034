namespace Edgewise.Text.ToolCalls;

/// <summary>
/// Gemma 4's native dialect: thinking in <c>&lt;|channel&gt;thought\n…&lt;channel|&gt;</c>, calls as
/// <c>&lt;|tool_call&gt;call:NAME{key:&lt;|"|&gt;text&lt;|"|&gt;,n:3,list:[…],map:{…}}&lt;tool_call|&gt;</c>
/// (bare keys, <c>&lt;|"|&gt;</c> string quotes), converted to OpenAI-style JSON arguments while tokens stream.
/// </summary>
public sealed class Gemma4ToolCallParser : IToolCallParser
{
    public string Dialect => "gemma4";

    public IToolCallStream CreateStream(string? prompt = null) => new Gemma4ToolCallStream(PromptEndsInThoughtChannel(prompt));

    /// <summary>True when the prompt's last channel marker is an opening one (the model continues its thinking).</summary>
    public static bool PromptEndsInThoughtChannel(string? prompt) =>
        prompt is not null
        && prompt.LastIndexOf(Gemma4ToolCallStream.ChannelOpen, StringComparison.Ordinal) is var open and >= 0
        && open > prompt.LastIndexOf(Gemma4ToolCallStream.ChannelClose, StringComparison.Ordinal)
        && open > prompt.LastIndexOf("<|turn>", StringComparison.Ordinal);

    public ParsedOutput Parse(string text) => ToolCallEvents.ParseWhole(this, text);
}

/// <summary>
/// The push parser. Input is held back only while it could still be the start of a marker, so every decision is
/// the same however the text is split into deltas. Repairs (each reported as a diagnostic): a thought channel or
/// call left open at end of output, unbalanced braces, a missing <c>&lt;tool_call|&gt;</c>, quoted or single-quoted
/// keys and strings, Python-style True/False/None, unquoted string values, a missing <c>call:</c> prefix.
/// </summary>
internal sealed partial class Gemma4ToolCallStream : BufferedToolCallStream
{
    internal const string ChannelOpen = "<|channel>";
    internal const string ChannelClose = "<channel|>";
    internal const string CallOpen = "<|tool_call>";
    internal const string CallClose = "<tool_call|>";
    internal const string Quote = "<|\"|>";
    internal const string TurnEnd = "<turn|>";
    internal const string ResponseOpen = "<|tool_response>";
    private const string ThoughtHeader = "thought\n";
    private const int MaxHeaderLength = 256;

    private static readonly string[] ContentMarkers = [ChannelOpen, CallOpen, TurnEnd, ResponseOpen, ChannelClose, CallClose];
    private static readonly string[] ReasoningMarkers = [ChannelClose, CallOpen, TurnEnd, ResponseOpen];
    private static readonly string[] EndMarkers = [CallClose, TurnEnd, ResponseOpen];
    private static readonly string[] AfterCallMarkers = [CallClose, TurnEnd, ResponseOpen, CallOpen];

    private readonly System.Text.StringBuilder _header = new();
    private State _state = State.Content;
    private int _callIndex = -1;
    private bool _reportedTrailing;

    public Gemma4ToolCallStream(bool startInReasoning = false)
    {
        if (startInReasoning) _state = State.Reasoning;
    }

    private enum State
    {
        Content,
        ChannelHeader,
        Reasoning,
        CallHeader,
        SkipCall,
        Arguments,
        AfterCall,
        Done,
    }

    protected override void Finish(int end)
    {
        switch (_state)
        {
            case State.ChannelHeader:
            case State.Reasoning:
                Report(end, "thought channel not closed with <channel|> before end of output; kept as reasoning", repaired: true);
                break;
            case State.CallHeader:
                Report(end, $"tool call header '{_header}' has no arguments object before end of output; call dropped", repaired: false);
                break;
            case State.SkipCall:
                break;
            case State.Arguments:
                CloseOpenArguments(end, "end of output");
                Report(end, "missing <tool_call|> at end of output", repaired: true);
                break;
            case State.AfterCall:
                Report(end, "missing <tool_call|> at end of output", repaired: true);
                break;
        }

        _state = State.Done;
    }

    protected override int Scan(string s, bool final)
    {
        var i = 0;
        while (i < s.Length)
        {
            var next = _state switch
            {
                State.Content => StepContent(s, i, final),
                State.ChannelHeader => StepChannelHeader(s, i, final),
                State.Reasoning => StepReasoning(s, i, final),
                State.CallHeader => StepCallHeader(s, i, final),
                State.SkipCall => StepSkipCall(s, i, final),
                State.Arguments => StepArguments(s, i, final),
                State.AfterCall => StepAfterCall(s, i, final),
                _ => StepDone(s, i),
            };
            if (next < 0) break; // need more input to decide
            i = next;
        }

        return i;
    }

    private int StepContent(string s, int i, bool final)
    {
        if (s[i] != '<') return PassThrough(s, i, ToolCallEventKind.Text);

        var (marker, partial) = MatchAny(s, i, ContentMarkers, final);
        if (partial) return -1;
        switch (marker)
        {
            case ChannelOpen:
                _state = State.ChannelHeader;
                break;
            case CallOpen:
                _state = State.CallHeader;
                _header.Clear();
                break;
            case TurnEnd:
            case ResponseOpen:
                _state = State.Done;
                break;
            case ChannelClose:
            case CallClose:
                Report(Offset(i), $"stray {marker} outside a channel or call dropped", repaired: true);
                break;
            default:
                Writer.Append(ToolCallEventKind.Text, 0, '<');
                return i + 1;
        }

        return i + marker.Length;
    }

    /// <summary>Emits the text up to the next '&lt;' (where a marker may start) as <paramref name="kind"/>; returns where it stopped.</summary>
    private int PassThrough(string s, int i, ToolCallEventKind kind)
    {
        var lt = s.IndexOf('<', i);
        var end = lt < 0 ? s.Length : lt;
        Writer.Append(kind, 0, s.AsSpan(i, end - i));
        return end;
    }

    private int StepChannelHeader(string s, int i, bool final)
    {
        var available = s.Length - i;
        if (string.CompareOrdinal(s, i, ThoughtHeader, 0, ThoughtHeader.Length) == 0)
        {
            _state = State.Reasoning;
            return i + ThoughtHeader.Length;
        }

        if (!final && available < ThoughtHeader.Length && string.CompareOrdinal(s, i, ThoughtHeader, 0, available) == 0) return -1;
        _state = State.Reasoning;
        if (string.CompareOrdinal(s, i, "thought", 0, 7) == 0) return i + 7;
        Report(Offset(i), "channel without the 'thought' name; treated as reasoning", repaired: true);
        return i;
    }

    private int StepReasoning(string s, int i, bool final)
    {
        if (s[i] != '<') return PassThrough(s, i, ToolCallEventKind.Reasoning);

        var (marker, partial) = MatchAny(s, i, ReasoningMarkers, final);
        if (partial) return -1;
        switch (marker)
        {
            case ChannelClose:
                _state = State.Content;
                break;
            case CallOpen:
                Report(Offset(i), "thought channel not closed before a tool call; closed there", repaired: true);
                _state = State.CallHeader;
                _header.Clear();
                break;
            case TurnEnd:
            case ResponseOpen:
                Report(Offset(i), "thought channel not closed before end of turn; kept as reasoning", repaired: true);
                _state = State.Done;
                break;
            default:
                Writer.Append(ToolCallEventKind.Reasoning, 0, '<');
                return i + 1;
        }

        return i + marker.Length;
    }

    private int StepCallHeader(string s, int i, bool final)
    {
        var c = s[i];
        if (c == '<')
        {
            var (marker, partial) = MatchAny(s, i, EndMarkers, final);
            if (partial) return -1;
            if (marker is not null)
            {
                Report(Offset(i), $"tool call '{_header.ToString().Trim()}' has no arguments object; call dropped", repaired: false);
                _state = marker == CallClose ? State.Content : State.Done;
                return i + marker.Length;
            }
        }

        if (c != '{')
        {
            _header.Append(c);
            if (_header.Length > MaxHeaderLength)
            {
                Report(Offset(i), $"tool call header longer than {MaxHeaderLength} characters; call dropped", repaired: false);
                _state = State.SkipCall;
            }

            return i + 1;
        }

        var header = _header.ToString().Trim();
        string name;
        if (header.StartsWith("call:", StringComparison.Ordinal))
        {
            name = header[5..].Trim();
        }
        else
        {
            name = header;
            Report(Offset(i), $"tool call '{header}' lacks the 'call:' prefix; accepted", repaired: true);
        }

        if (!IsValidName(name))
        {
            Report(Offset(i), $"tool call name '{name}' is not a function name; call dropped", repaired: false);
            _state = State.SkipCall;
            return i + 1;
        }

        _callIndex++;
        Writer.Single(ToolCallEventKind.ToolCallStart, _callIndex, name);
        BeginArguments();
        _state = State.Arguments;
        return i + 1;
    }

    private int StepSkipCall(string s, int i, bool final)
    {
        if (s[i] != '<') return i + 1;
        var (marker, partial) = MatchAny(s, i, EndMarkers, final);
        if (partial) return -1;
        if (marker is null) return i + 1;
        _state = marker == CallClose ? State.Content : State.Done;
        return i + marker.Length;
    }

    private int StepAfterCall(string s, int i, bool final)
    {
        var c = s[i];
        if (char.IsWhiteSpace(c)) return i + 1;
        if (c == '<')
        {
            var (marker, partial) = MatchAny(s, i, AfterCallMarkers, final);
            if (partial) return -1;
            switch (marker)
            {
                case CallClose:
                    _state = State.Content;
                    return i + marker.Length;
                case CallOpen:
                    Report(Offset(i), "missing <tool_call|> before the next call", repaired: true);
                    _state = State.CallHeader;
                    _header.Clear();
                    return i + marker.Length;
                case TurnEnd:
                case ResponseOpen:
                    Report(Offset(i), "missing <tool_call|> before end of turn", repaired: true);
                    _state = State.Done;
                    return i + marker.Length;
            }
        }

        // Several calls inside one <|tool_call> block: "call:a{...}call:b{...}".
        var available = s.Length - i;
        if (string.CompareOrdinal(s, i, "call:", 0, Math.Min(5, available)) == 0)
        {
            if (available < 5 && !final) return -1;
            if (available >= 5)
            {
                _state = State.CallHeader;
                _header.Clear();
                return i;
            }
        }

        if (!_reportedTrailing)
        {
            Report(Offset(i), "unexpected text after a tool call's arguments dropped", repaired: true);
            _reportedTrailing = true;
        }

        return i + 1;
    }

    private int StepDone(string s, int i)
    {
        if (!_reportedTrailing && !string.IsNullOrWhiteSpace(s[i..]))
        {
            Report(Offset(i), "text after end of turn ignored", repaired: true);
            _reportedTrailing = true;
        }

        return s.Length;
    }

    private static bool IsValidName(string name)
    {
        if (name.Length == 0) return false;
        foreach (var c in name)
        {
            if (!char.IsLetterOrDigit(c) && c is not ('_' or '-' or '.' or ':')) return false;
        }

        return true;
    }

    /// <summary>Which marker starts at <paramref name="i"/>; partial when the text so far is a proper prefix of one.</summary>
    private static (string? Marker, bool Partial) MatchAny(string s, int i, string[] markers, bool final)
    {
        var available = s.Length - i;
        var partial = false;
        foreach (var marker in markers)
        {
            if (available >= marker.Length)
            {
                if (string.CompareOrdinal(s, i, marker, 0, marker.Length) == 0) return (marker, false);
            }
            else if (!final && string.CompareOrdinal(s, i, marker, 0, available) == 0)
            {
                partial = true;
            }
        }

        return (null, partial);
    }


}

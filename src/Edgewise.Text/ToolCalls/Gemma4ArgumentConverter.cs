using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Edgewise.Text.ToolCalls;

/// <summary>
/// Streaming conversion of Gemma 4 call arguments (<c>{key:&lt;|"|&gt;v&lt;|"|&gt;,n:1,l:[…]}</c>) into JSON text,
/// one character at a time, with a container stack that knows whether a key or a value comes next.
/// </summary>
internal sealed partial class Gemma4ToolCallStream
{
    private static readonly string[] ArgumentMarkers = [Quote, CallClose, TurnEnd, ResponseOpen];

    private readonly List<Container> _stack = [];
    private readonly StringBuilder _token = new();

    // '}' and ']' at the current end of a string are held back: if the string turns out unterminated, they were
    // meant as closing brackets ({city:<|"|>Paris}<tool_call|>), not text.
    private readonly StringBuilder _heldClosers = new();
    private ArgumentMode _mode;
    private string _quote = Quote;
    private bool _tokenIsKey;

    private enum ArgumentMode
    {
        Structure,
        String,
        Bare,
    }

    private enum Slot
    {
        Key,
        Colon,
        Value,
        Separator,
    }

    private sealed class Container(bool isObject)
    {
        public bool IsObject { get; } = isObject;

        public Slot Expect { get; set; } = isObject ? Slot.Key : Slot.Value;

        public bool PendingComma { get; set; }
    }

    [GeneratedRegex(@"^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$")]
    private static partial Regex JsonNumber();

    private void BeginArguments()
    {
        _stack.Clear();
        _stack.Add(new Container(isObject: true));
        _mode = ArgumentMode.Structure;
        _reportedTrailing = false;
        Emit("{");
    }

    private int StepArguments(string s, int i, bool final) => _mode switch
    {
        ArgumentMode.String => StepString(s, i, final),
        ArgumentMode.Bare => StepBare(s, i, final),
        _ => StepStructure(s, i, final),
    };

    private int StepStructure(string s, int i, bool final)
    {
        var c = s[i];
        if (char.IsWhiteSpace(c)) return i + 1;
        if (c == '<')
        {
            var (marker, partial) = MatchAny(s, i, ArgumentMarkers, final);
            if (partial) return -1;
            switch (marker)
            {
                case Quote:
                    BeginString(Quote, i);
                    return i + Quote.Length;
                case CallClose:
                    CloseOpenArguments(Offset(i), "<tool_call|>");
                    _state = State.Content;
                    return i + marker.Length;
                case TurnEnd:
                case ResponseOpen:
                    CloseOpenArguments(Offset(i), "end of turn");
                    Report(Offset(i), "missing <tool_call|> before end of turn", repaired: true);
                    _state = State.Done;
                    return i + marker.Length;
            }
        }

        var top = _stack[^1];
        switch (c)
        {
            case '"':
            case '\'':
                if (c == '\'') Report(Offset(i), "single-quoted string converted", repaired: true);
                else if (top.IsObject && top.Expect is Slot.Key or Slot.Separator) Report(Offset(i), "quoted key accepted", repaired: true);
                BeginString(c.ToString(), i);
                return i + 1;
            case '{':
            case '[':
                if (PrepareItem(top, i))
                {
                    Report(Offset(i), "object value without a key; used the empty key", repaired: false);
                    Emit("\"\":");
                }

                Emit(c == '{' ? "{" : "[");
                top.Expect = Slot.Separator;
                _stack.Add(new Container(c == '{'));
                return i + 1;
            case '}':
            case ']':
                CloseContainer(c == '}', Offset(i));
                return i + 1;
            case ',':
                if (top.Expect == Slot.Separator)
                {
                    top.PendingComma = true;
                    top.Expect = top.IsObject ? Slot.Key : Slot.Value;
                }
                else
                {
                    Report(Offset(i), "stray comma dropped", repaired: true);
                }

                return i + 1;
            case ':':
                if (top.IsObject && top.Expect == Slot.Colon)
                {
                    Emit(":");
                    top.Expect = Slot.Value;
                }
                else
                {
                    Report(Offset(i), "stray colon dropped", repaired: true);
                }

                return i + 1;
            default:
                _token.Clear();
                _tokenIsKey = PrepareItem(top, i);
                _mode = ArgumentMode.Bare;
                return i;
        }
    }

    /// <summary>Emits a pending comma before a new key or value; returns true when a key is expected.</summary>
    private bool PrepareItem(Container top, int i)
    {
        if (top.Expect == Slot.Separator)
        {
            Report(Offset(i), "missing comma inserted", repaired: true);
            top.PendingComma = true;
            top.Expect = top.IsObject ? Slot.Key : Slot.Value;
        }
        else if (top.IsObject && top.Expect == Slot.Colon)
        {
            Report(Offset(i), "missing colon inserted", repaired: true);
            Emit(":");
            top.Expect = Slot.Value;
        }

        if (top.PendingComma)
        {
            Emit(",");
            top.PendingComma = false;
        }

        return top.IsObject && top.Expect == Slot.Key;
    }

    private void BeginString(string quote, int i)
    {
        _tokenIsKey = PrepareItem(_stack[^1], i);
        _quote = quote;
        _heldClosers.Clear();
        _mode = ArgumentMode.String;
        Emit("\"");
    }

    private int StepString(string s, int i, bool final)
    {
        var c = s[i];
        if (c == '<')
        {
            var (marker, partial) = MatchAny(s, i, ArgumentMarkers, final);
            if (partial) return -1;
            if (marker == Quote && _quote == Quote)
            {
                FlushHeldClosers();
                EndString();
                return i + Quote.Length;
            }

            if (marker is CallClose or TurnEnd or ResponseOpen)
            {
                CloseUnterminatedString(Offset(i));
                return i;
            }

            EmitStringChar(c);
            return i + 1;
        }

        if (_quote == Quote)
        {
            var lt = s.IndexOf('<', i);
            var end = lt < 0 ? s.Length : lt;
            for (var k = i; k < end; k++) EmitStringChar(s[k]);
            return end;
        }

        if (c == _quote[0])
        {
            FlushHeldClosers();
            EndString();
            return i + 1;
        }

        if (c == '\\')
        {
            if (i + 1 >= s.Length)
            {
                if (!final) return -1;
                Emit("\\\\");
                return i + 1;
            }

            FlushHeldClosers();
            var e = s[i + 1];
            if (_quote == "'" && e == '\'') EmitEscaped('\'');
            else if (e is '"' or '\\' or '/' or 'b' or 'f' or 'n' or 'r' or 't') Emit(string.Concat("\\", e.ToString()));
            else
            {
                Emit("\\\\");
                EmitEscaped(e);
            }

            return i + 2;
        }

        EmitStringChar(c);
        return i + 1;
    }

    private void EmitStringChar(char c)
    {
        if (c is '}' or ']')
        {
            _heldClosers.Append(c);
            return;
        }

        FlushHeldClosers();
        EmitEscaped(c);
    }

    private void FlushHeldClosers()
    {
        foreach (var held in _heldClosers.ToString()) EmitEscaped(held);
        _heldClosers.Clear();
    }

    /// <summary>A string still open at the end of the call: close it, and treat brackets it ended with as structure.</summary>
    private void CloseUnterminatedString(int offset)
    {
        var closers = _heldClosers.ToString();
        _heldClosers.Clear();
        Report(offset, closers.Length > 0 ? $"unterminated string closed; its trailing '{closers}' read as closing brackets" : "unterminated string closed", repaired: true);
        EndString();
        foreach (var closer in closers)
        {
            if (_stack.Count == 0) break;
            CloseContainer(closer == '}', offset);
        }
    }

    private void EndString()
    {
        Emit("\"");
        var top = _stack[^1];
        top.Expect = _tokenIsKey ? Slot.Colon : Slot.Separator;
        _mode = ArgumentMode.Structure;
    }

    private int StepBare(string s, int i, bool final)
    {
        var c = s[i];
        if (c == '<')
        {
            var (marker, partial) = MatchAny(s, i, ArgumentMarkers, final);
            if (partial) return -1;
            if (marker is not null)
            {
                FinishBare(i);
                return i;
            }
        }

        if (c is ',' or '}' or ']' || (_tokenIsKey && c == ':'))
        {
            FinishBare(i);
            return i;
        }

        _token.Append(c);
        return i + 1;
    }

    private void FinishBare(int i)
    {
        var text = _token.ToString().Trim();
        _mode = ArgumentMode.Structure;
        var top = _stack[^1];
        if (_tokenIsKey)
        {
            Emit(JsonString(text));
            top.Expect = Slot.Colon;
            return;
        }

        Emit(NormalizeScalar(text, Offset(i)));
        top.Expect = Slot.Separator;
    }

    private string NormalizeScalar(string text, int offset)
    {
        switch (text)
        {
            case "true" or "false" or "null":
                return text;
            case "True" or "False" or "None":
                Report(offset, $"Python literal {text} converted", repaired: true);
                return text == "None" ? "null" : text.ToLowerInvariant();
            case "":
                Report(offset, "missing value; null used", repaired: false);
                return "null";
        }

        if (JsonNumber().IsMatch(text)) return text;
        if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var number) && double.IsFinite(number))
        {
            Report(offset, $"number '{text}' normalized", repaired: true);
            return number.ToString("R", CultureInfo.InvariantCulture);
        }

        Report(offset, $"unquoted string value '{text}' quoted", repaired: true);
        return JsonString(text);
    }

    private void CloseContainer(bool isObject, int offset)
    {
        var match = -1;
        for (var k = _stack.Count - 1; k >= 0; k--)
        {
            if (_stack[k].IsObject == isObject)
            {
                match = k;
                break;
            }
        }

        if (match < 0)
        {
            Report(offset, $"unmatched '{(isObject ? '}' : ']')}' dropped", repaired: true);
            return;
        }

        if (match < _stack.Count - 1) Report(offset, "mismatched bracket; inner containers closed", repaired: true);
        while (_stack.Count > match) PopContainer(offset);
        if (_stack.Count == 0) EndCall();
    }

    private void PopContainer(int offset)
    {
        var top = _stack[^1];
        if (top.IsObject && top.Expect == Slot.Colon)
        {
            Report(offset, "key without a value; null used", repaired: false);
            Emit(":null");
        }
        else if (top.IsObject && top.Expect == Slot.Value)
        {
            Report(offset, "missing value; null used", repaired: false);
            Emit("null");
        }
        else if (top.PendingComma)
        {
            Report(offset, "trailing comma dropped", repaired: true);
        }

        Emit(top.IsObject ? "}" : "]");
        _stack.RemoveAt(_stack.Count - 1);
        if (_stack.Count > 0) _stack[^1].Expect = Slot.Separator;
    }

    /// <summary>End of call text while arguments are open: close the string, the bare token and every bracket.</summary>
    private void CloseOpenArguments(int offset, string where)
    {
        if (_mode == ArgumentMode.String)
        {
            CloseUnterminatedString(offset);
            if (_stack.Count == 0) return; // its trailing brackets closed the call
        }
        else if (_mode == ArgumentMode.Bare)
        {
            FinishBare(Index(offset));
        }

        var open = _stack.Count;
        if (open > 0) Report(offset, $"{open} unbalanced bracket(s) closed at {where}", repaired: true);
        while (_stack.Count > 0) PopContainer(offset);
        EndCall();
    }

    private void EndCall()
    {
        Writer.Single(ToolCallEventKind.ToolCallEnd, _callIndex, "");
        _mode = ArgumentMode.Structure;
        _state = State.AfterCall;
    }

    private void Emit(string json) => Writer.Append(ToolCallEventKind.ToolCallArguments, _callIndex, json);

    private void EmitEscaped(char c)
    {
        if (Escape(c) is { } escaped) Emit(escaped);
        else Writer.Append(ToolCallEventKind.ToolCallArguments, _callIndex, c);
    }

    private static string JsonString(string text)
    {
        var sb = new StringBuilder(text.Length + 2).Append('"');
        foreach (var c in text)
        {
            if (Escape(c) is { } escaped) sb.Append(escaped);
            else sb.Append(c);
        }

        return sb.Append('"').ToString();
    }

    /// <summary>
    /// The JSON escape of <paramref name="c"/> in argument strings, or null where it stands for itself. Streamed and
    /// whole values both escape through here, so a call's argument deltas join to exactly its whole-value JSON.
    /// (Python's <c>json.dumps</c>, <see cref="Templates.PythonJson"/>, also shortens \b and \f: a different encoder.)
    /// </summary>
    private static string? Escape(char c) => c switch
    {
        '"' => "\\\"",
        '\\' => "\\\\",
        '\n' => "\\n",
        '\r' => "\\r",
        '\t' => "\\t",
        < (char)0x20 => "\\u" + ((int)c).ToString("x4", CultureInfo.InvariantCulture),
        _ => null,
    };
}

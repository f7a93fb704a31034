using System.Text;
using System.Text.Json;

namespace Edgewise.Text.ToolCalls;

/// <summary>
/// The prompted dialect for models without tool tokens (Gemma 3n, Gemma 3): calls are JSON objects
/// <c>{"name": …, "arguments": {…}}</c> (or an array of them) inside a <c>```tool_call</c> fenced block,
/// anywhere in the answer. See docs/gemma3n-tool-format.md and <see cref="Gemma3nToolPrompt"/>.
/// </summary>
public sealed class JsonFenceToolCallParser : IToolCallParser
{
    public string Dialect => "json-fence";

    /// <summary>The prompt is not needed: this format has nothing that spans the prompt/output boundary.</summary>
    public IToolCallStream CreateStream(string? prompt = null) => new JsonFenceToolCallStream();

    public ParsedOutput Parse(string text) => ToolCallEvents.ParseWhole(this, text);
}

/// <summary>
/// Streams text through until a <c>```tool_call</c> fence opens, buffers the block until its closing fence, then
/// emits each call whole. Repairs: missing closing fence at end of output, unbalanced braces, trailing commas,
/// arguments given as a JSON string, "parameters" used for "arguments". Unparseable blocks stay visible as text.
/// </summary>
internal sealed class JsonFenceToolCallStream : BufferedToolCallStream
{
    internal const string FenceOpen = "```tool_call";
    internal const string FenceClose = "```";
    private static readonly string[] EndOfTurn = ["<end_of_turn>", "<turn|>"];

    private readonly StringBuilder _block = new();
    private int _blockOffset;
    private bool _inBlock;
    private bool _done;
    private int _callIndex = -1;

    protected override void Finish(int end)
    {
        if (_inBlock)
        {
            Report(end, "missing closing ``` after a tool_call block", repaired: true);
            EmitBlock();
        }
    }

    protected override int Scan(string s, bool final)
    {
        var i = 0;
        while (i < s.Length && !_done)
        {
            if (!_inBlock)
            {
                var special = s.IndexOfAny(['`', '<'], i);
                var end = special < 0 ? s.Length : special;
                Writer.Append(ToolCallEventKind.Text, 0, s.AsSpan(i, end - i));
                i = end;
                if (i >= s.Length) break;
                var match = Match(s, i, FenceOpen, final);
                if (match < 0) break;
                if (match > 0)
                {
                    _inBlock = true;
                    _block.Clear();
                    _blockOffset = Offset(i);
                    i += FenceOpen.Length;
                    continue;
                }

                var stop = MatchEndOfTurn(s, i, final);
                if (stop < 0) break;
                if (stop > 0)
                {
                    _done = true;
                    i = s.Length;
                    break;
                }

                Writer.Append(ToolCallEventKind.Text, 0, s[i]);
                i++;
                continue;
            }

            if (s[i] == '`' || s[i] == '<')
            {
                var close = s[i] == '`' ? Match(s, i, FenceClose, final) : MatchEndOfTurn(s, i, final);
                if (close < 0) break;
                if (close > 0)
                {
                    if (s[i] == '<')
                    {
                        Report(Offset(i), "missing closing ``` before end of turn", repaired: true);
                        _done = true;
                    }

                    EmitBlock();
                    _inBlock = false;
                    i = _done ? s.Length : i + FenceClose.Length;
                    continue;
                }
            }

            _block.Append(s[i]);
            i++;
        }

        return i;
    }

    /// <summary>1 when <paramref name="marker"/> starts at i, 0 when it cannot, -1 when more input is needed.</summary>
    private static int Match(string s, int i, string marker, bool final)
    {
        var available = s.Length - i;
        var n = Math.Min(available, marker.Length);
        if (string.CompareOrdinal(s, i, marker, 0, n) != 0) return 0;
        if (available >= marker.Length) return 1;
        return final ? 0 : -1;
    }

    private static int MatchEndOfTurn(string s, int i, bool final)
    {
        var result = 0;
        foreach (var marker in EndOfTurn)
        {
            var m = Match(s, i, marker, final);
            if (m == 1) return 1;
            if (m < 0) result = -1;
        }

        return result;
    }

    private void EmitBlock()
    {
        var json = _block.ToString().Trim();
        if (json.StartsWith("json", StringComparison.Ordinal)) json = json[4..].TrimStart();
        var doc = TryParse(json) ?? Repaired(json);
        if (doc is null)
        {
            Report(_blockOffset, "tool_call block is not valid JSON; left as text", repaired: false);
            Writer.Append(ToolCallEventKind.Text, 0, FenceOpen + _block + FenceClose);
            return;
        }

        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind == JsonValueKind.Array)
            {
                foreach (var item in root.EnumerateArray()) EmitCall(item);
            }
            else
            {
                EmitCall(root);
            }
        }
    }

    private JsonDocument? Repaired(string json)
    {
        var fixedJson = JsonRepair.CloseBrackets(json, out var closed);
        var doc = TryParse(fixedJson);
        if (doc is not null) Report(_blockOffset, $"{closed} unbalanced bracket(s) closed in tool_call block", repaired: true);
        return doc;
    }

    private static JsonDocument? TryParse(string json)
    {
        try
        {
            return JsonDocument.Parse(json, new JsonDocumentOptions { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip });
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private void EmitCall(JsonElement call)
    {
        if (call.ValueKind != JsonValueKind.Object || !call.TryGetProperty("name", out var name) || name.ValueKind != JsonValueKind.String)
        {
            Report(_blockOffset, $"tool call without a string \"name\": {call.GetRawText()}", repaired: false);
            return;
        }

        string arguments = "{}";
        if (call.TryGetProperty("arguments", out var args) || call.TryGetProperty("parameters", out args))
        {
            if (args.ValueKind == JsonValueKind.Object)
            {
                arguments = JsonSerializer.Serialize(args);
            }
            else if (args.ValueKind == JsonValueKind.String && TryParse(args.GetString()!) is { } inner)
            {
                using (inner)
                {
                    if (inner.RootElement.ValueKind == JsonValueKind.Object)
                    {
                        arguments = JsonSerializer.Serialize(inner.RootElement);
                        Report(_blockOffset, "arguments given as a JSON string; decoded", repaired: true);
                    }
                }
            }
            else if (args.ValueKind != JsonValueKind.Null)
            {
                Report(_blockOffset, $"arguments of '{name.GetString()}' are not an object; {{}} used", repaired: false);
            }
        }

        _callIndex++;
        Writer.Single(ToolCallEventKind.ToolCallStart, _callIndex, name.GetString()!);
        Writer.Append(ToolCallEventKind.ToolCallArguments, _callIndex, arguments);
        Writer.Single(ToolCallEventKind.ToolCallEnd, _callIndex, "");
    }
}

/// <summary>Small JSON repairs for truncated model output.</summary>
internal static class JsonRepair
{
    /// <summary>Appends the closers for brackets (and a string) left open; <paramref name="closed"/> counts them.</summary>
    public static string CloseBrackets(string json, out int closed)
    {
        var stack = new Stack<char>();
        var inString = false;
        for (var i = 0; i < json.Length; i++)
        {
            var c = json[i];
            if (inString)
            {
                if (c == '\\') i++;
                else if (c == '"') inString = false;
                continue;
            }

            if (c == '"') inString = true;
            else if (c is '{' or '[') stack.Push(c == '{' ? '}' : ']');
            else if (c is '}' or ']' && stack.Count > 0) stack.Pop();
        }

        var sb = new StringBuilder(json);
        if (inString) sb.Append('"');
        closed = stack.Count;
        while (stack.Count > 0) sb.Append(stack.Pop());
        return sb.ToString();
    }
}

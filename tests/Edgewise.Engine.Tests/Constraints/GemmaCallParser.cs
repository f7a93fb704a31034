using System.Text;
using System.Text.Json.Nodes;

namespace Edgewise.Engine.Tests.Constraints;

/// <summary>
/// An independent reader of Gemma 4 model output, token by token: text before the calls, then
/// <c>&lt;|tool_call&gt;call:NAME{...}&lt;tool_call|&gt;</c> blocks whose arguments (bare keys, <c>&lt;|"|&gt;</c>
/// strings) become JSON. Throws <see cref="FormatException"/> on anything else.
/// </summary>
internal static class GemmaCallParser
{
    private const char Quote = '\u0001'; // stands for the <|"|> token; grammar strings can never contain it

    public sealed record Parsed(string Text, List<(string Name, JsonObject Arguments)> Calls, bool SawSpecialInText);

    public static Parsed Parse(TestTokenizer tokenizer, IReadOnlyList<int> tokens)
    {
        int start = tokenizer.Id("<|tool_call>"), end = tokenizer.Id("<tool_call|>"), quote = tokenizer.Id("<|\"|>");
        var text = new List<byte>();
        var calls = new List<(string, JsonObject)>();
        bool specialInText = false;
        int i = 0;
        while (i < tokens.Count && tokens[i] != start)
        {
            if (tokenizer.IsSpecial(tokens[i]))
                specialInText = true;
            text.AddRange(tokenizer.TokenBytes(tokens[i]).ToArray());
            i++;
        }
        while (i < tokens.Count)
        {
            if (tokens[i] != start)
                throw new FormatException($"expected <|tool_call> at token {i}, found '{tokenizer.TokenPiece(tokens[i])}'");
            i++;
            var body = new StringBuilder();
            var pending = new List<byte>();
            while (i < tokens.Count && tokens[i] != end)
            {
                if (tokens[i] == quote)
                {
                    body.Append(Encoding.UTF8.GetString([.. pending])).Append(Quote);
                    pending.Clear();
                }
                else if (tokenizer.IsSpecial(tokens[i]))
                    throw new FormatException($"special token '{tokenizer.TokenPiece(tokens[i])}' inside a call");
                else
                    pending.AddRange(tokenizer.TokenBytes(tokens[i]).ToArray());
                i++;
            }
            if (i == tokens.Count)
                throw new FormatException("call not closed by <tool_call|>");
            i++;
            body.Append(Encoding.UTF8.GetString([.. pending]));
            calls.Add(ParseCall(body.ToString()));
        }
        return new Parsed(Encoding.UTF8.GetString([.. text]), calls, specialInText);
    }

    private static (string, JsonObject) ParseCall(string body)
    {
        if (!body.StartsWith("call:", StringComparison.Ordinal))
            throw new FormatException($"expected 'call:', found '{body}'");
        int pos = 5;
        string name = ReadKey(body, ref pos);
        var value = ReadValue(body, ref pos);
        if (pos != body.Length || value is not JsonObject arguments)
            throw new FormatException($"expected one object after the name in '{body}'");
        return (name, arguments);
    }

    private static string ReadKey(string s, ref int pos)
    {
        int start = pos;
        while (pos < s.Length && (char.IsAsciiLetterOrDigit(s[pos]) || s[pos] is '_' or '-'))
            pos++;
        if (pos == start)
            throw new FormatException($"expected a key at {pos} in '{s}'");
        return s[start..pos];
    }

    private static void Expect(string s, ref int pos, char c)
    {
        if (pos >= s.Length || s[pos] != c)
            throw new FormatException($"expected '{c}' at {pos} in '{s}'");
        pos++;
    }

    private static JsonNode? ReadValue(string s, ref int pos)
    {
        if (pos >= s.Length)
            throw new FormatException($"value expected at the end of '{s}'");
        switch (s[pos])
        {
            case '{':
            {
                pos++;
                var obj = new JsonObject();
                if (s[pos] == '}') { pos++; return obj; }
                while (true)
                {
                    string key = ReadKey(s, ref pos);
                    Expect(s, ref pos, ':');
                    obj.Add(key, ReadValue(s, ref pos));
                    if (s[pos] == '}') { pos++; return obj; }
                    Expect(s, ref pos, ',');
                }
            }
            case '[':
            {
                pos++;
                var array = new JsonArray();
                if (s[pos] == ']') { pos++; return array; }
                while (true)
                {
                    array.Add(ReadValue(s, ref pos));
                    if (s[pos] == ']') { pos++; return array; }
                    Expect(s, ref pos, ',');
                }
            }
            case Quote:
            {
                int close = s.IndexOf(Quote, pos + 1);
                if (close < 0)
                    throw new FormatException($"unterminated string in '{s}'");
                string value = s[(pos + 1)..close];
                pos = close + 1;
                return JsonValue.Create(value);
            }
            default:
            {
                int start = pos;
                while (pos < s.Length && s[pos] is not (',' or '}' or ']'))
                    pos++;
                return JsonNode.Parse(s[start..pos]); // numbers, true, false, null: JSON spelling
            }
        }
    }
}

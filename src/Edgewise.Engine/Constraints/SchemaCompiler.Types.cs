using System.Text.Json;

namespace Edgewise.Engine.Constraints;

internal sealed partial class SchemaCompiler
{
    private const int MaxUnrolledCount = 1024;

    // ---- Objects ----

    private int ObjectRule(JsonElement schema, string pointer)
    {
        var names = new List<string>();
        var values = new List<int>();
        if (schema.TryGetProperty("properties", out var properties))
        {
            if (properties.ValueKind != JsonValueKind.Object)
                throw new SchemaCompileException(pointer + "/properties", $"expected an object, found {properties.ValueKind}");
            foreach (var property in properties.EnumerateObject())
            {
                if (_syntax == ValueSyntax.Gemma && !IsBareKey(property.Name))
                    throw new SchemaCompileException($"{pointer}/properties/{property.Name}", "Gemma tool-call syntax needs keys made of letters, digits, '_' or '-'");
                names.Add(property.Name);
                values.Add(Compile(property.Value, $"{pointer}/properties/{EscapePointer(property.Name)}"));
            }
        }
        var required = new HashSet<string>(StringComparer.Ordinal);
        if (schema.TryGetProperty("required", out var requiredList))
        {
            if (requiredList.ValueKind != JsonValueKind.Array)
                throw new SchemaCompileException(pointer + "/required", $"expected an array, found {requiredList.ValueKind}");
            foreach (var name in requiredList.EnumerateArray())
            {
                string text = name.GetString() ?? throw new SchemaCompileException(pointer + "/required", "expected property names");
                if (!names.Contains(text) && !AdditionalAllowed(schema))
                    throw new SchemaCompileException(pointer + "/required", $"required property '{text}' is not in 'properties' and extra properties are not allowed");
                required.Add(text);
            }
        }

        // Extra members come after the listed ones: Extra(first) and Extra(after a member).
        int extraFirst = -1, extraAfter = -1;
        if (AdditionalAllowed(schema))
        {
            int extraValue = schema.TryGetProperty("additionalProperties", out var extra) && extra.ValueKind == JsonValueKind.Object
                ? Compile(extra, pointer + "/additionalProperties")
                : AnyValue();
            var member = Seq(Builder.Ref(AnyKey()), Colon(), Builder.Ref(extraValue));
            extraAfter = Builder.DeclareRule("extra_after");
            Builder.AddAlternative(extraAfter, Seq());
            Builder.AddAlternative(extraAfter, Seq(Separator(), member, Builder.Ref(extraAfter)));
            extraFirst = Builder.Rule("extra_first", Seq(), Seq(member, Builder.Ref(extraAfter)));
        }

        // first[i]: members i.. when none came yet; after[i]: members i.. after at least one (so each needs a comma).
        int nextFirst = extraFirst >= 0 ? extraFirst : Builder.Rule("members_end", Seq());
        int nextAfter = extraAfter >= 0 ? extraAfter : nextFirst;
        for (int i = names.Count - 1; i >= 0; i--)
        {
            var member = Seq(Key(names[i]), Colon(), Builder.Ref(values[i]));
            bool isRequired = required.Contains(names[i]);
            int after = Builder.DeclareRule("after_" + names[i]);
            Builder.AddAlternative(after, Seq(Separator(), member, Builder.Ref(nextAfter)));
            if (!isRequired)
                Builder.AddAlternative(after, [Builder.Ref(nextAfter)]);
            int first = Builder.DeclareRule("first_" + names[i]);
            Builder.AddAlternative(first, Seq(member, Builder.Ref(nextAfter)));
            if (!isRequired)
                Builder.AddAlternative(first, [Builder.Ref(nextFirst)]);
            nextFirst = first;
            nextAfter = after;
        }
        foreach (string name in required)
        {
            if (!names.Contains(name))
                throw new SchemaCompileException(pointer + "/required", $"required property '{name}' must also be listed in 'properties'");
        }
        return Builder.Rule("object", Seq("{", Ws(), Builder.Ref(nextFirst), Ws(), "}"));
    }

    private bool AdditionalAllowed(JsonElement schema)
    {
        if (!schema.TryGetProperty("additionalProperties", out var extra))
            return !_options.Strict;
        return extra.ValueKind != JsonValueKind.False;
    }

    private List<GrammarSymbol> Key(string name) => _syntax == ValueSyntax.Json
        ? Seq(JsonSerializer.Serialize(name, LiteralJson))
        : Seq(name);

    private List<GrammarSymbol> Colon() => Seq(Ws(), ":", Ws());

    private int AnyKey()
    {
        if (_key >= 0)
            return _key;
        if (_syntax == ValueSyntax.Json)
            return _key = AnyString();
        var rest = Builder.Bytes(ByteSet.Range((byte)'a', (byte)'z') | ByteSet.Range((byte)'A', (byte)'Z') | ByteSet.Range((byte)'0', (byte)'9') | ByteSet.OfChars("_"));
        var start = Builder.Bytes(ByteSet.Range((byte)'a', (byte)'z') | ByteSet.Range((byte)'A', (byte)'Z') | ByteSet.OfChars("_"));
        int tail = Builder.DeclareRule("key_rest");
        Builder.AddAlternative(tail, Seq());
        Builder.AddAlternative(tail, Seq(rest, Builder.Ref(tail)));
        return _key = Builder.Rule("key", Seq(start, Builder.Ref(tail)));
    }

    internal static bool IsBareKey(string name)
    {
        if (name.Length == 0)
            return false;
        foreach (char c in name)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c == '_' || c == '-'))
                return false;
        }
        return true;
    }

    private static string EscapePointer(string name) => name.Replace("~", "~0").Replace("/", "~1");

    // ---- Arrays ----

    private int ArrayRule(JsonElement schema, string pointer)
    {
        int min = ReadCount(schema, "minItems", pointer) ?? 0;
        int? max = ReadCount(schema, "maxItems", pointer);
        if (max < min)
            throw new SchemaCompileException(pointer, $"maxItems {max} is below minItems {min}");
        bool noItems = schema.TryGetProperty("items", out var items) && items.ValueKind == JsonValueKind.False;
        if (noItems)
            max = 0;
        if (max < min)
            throw new SchemaCompileException(pointer, "'items: false' with minItems > 0 matches nothing");
        int item = schema.TryGetProperty("items", out items) && !noItems ? Compile(items, pointer + "/items") : AnyValue();
        return Repeat(item, min, max, "[", "]");
    }

    /// <summary>open ws [item (sep item)*] ws close, with between min and max items (max null = unbounded).</summary>
    private int Repeat(int item, int min, int? max, string open, string close)
    {
        int rule = Builder.DeclareRule("array");
        if (min == 0)
            Builder.AddAlternative(rule, Seq(open, Ws(), close));
        if (max is null or > 0)
        {
            // tail[k]: after k items. Unbounded lists saturate k at max(min, 1), so the loop is one tail-recursive rule.
            int cap = max ?? Math.Max(min, 1);
            var tails = new int[cap + 1];
            for (int k = 1; k <= cap; k++)
                tails[k] = Builder.DeclareRule("items_" + k);
            for (int k = 1; k <= cap; k++)
            {
                if (k >= min)
                    Builder.AddAlternative(tails[k], Seq());
                if (max is null || k < max)
                {
                    int next = max is null ? Math.Min(k + 1, cap) : k + 1;
                    Builder.AddAlternative(tails[k], Seq(Separator(), Builder.Ref(item), Builder.Ref(tails[next])));
                }
            }
            Builder.AddAlternative(rule, Seq(open, Ws(), Builder.Ref(item), Builder.Ref(tails[1]), Ws(), close));
        }
        return rule;
    }

    private static int? ReadCount(JsonElement schema, string keyword, string pointer)
    {
        if (!schema.TryGetProperty(keyword, out var value))
            return null;
        if (value.ValueKind != JsonValueKind.Number || !value.TryGetInt32(out int count) || count < 0)
            throw new SchemaCompileException(pointer + "/" + keyword, $"expected a non-negative integer, found {value.GetRawText()}");
        if (count > MaxUnrolledCount)
            throw new SchemaCompileException(pointer + "/" + keyword, $"counts above {MaxUnrolledCount} are not supported, found {count}");
        return count;
    }

    // ---- Strings ----

    private int StringRule(JsonElement schema, string pointer)
    {
        int min = ReadCount(schema, "minLength", pointer) ?? 0;
        int? max = ReadCount(schema, "maxLength", pointer);
        if (max < min)
            throw new SchemaCompileException(pointer, $"maxLength {max} is below minLength {min}");
        return min == 0 && max is null ? AnyString() : QuotedString(min, max ?? -1);
    }

    private int AnyString() => _anyString >= 0 ? _anyString : _anyString = QuotedString(0, -1);

    private int QuotedString(int min, int max)
    {
        int content = StringContent(min, max);
        return _syntax == ValueSyntax.Json
            ? Builder.Rule("string", Seq("\"", Builder.Ref(content), "\""))
            : Builder.Rule("string", Seq(Builder.Token(GemmaQuote), Builder.Ref(content), Builder.Token(GemmaQuote)));
    }

    /// <summary>
    /// Between min and max characters (max -1 = unbounded), never containing "&lt;|" or "|&gt;". Rules are indexed by
    /// (characters so far, marker state): N = after an ordinary character, L = after '&lt;', B = after '|'.
    /// </summary>
    private int StringContent(int min, int max)
    {
        if (_stringContent.TryGetValue((min, max), out int cached))
            return cached;
        var (other, otherAfterBar) = OrdinaryCharacters();
        var lt = Builder.Bytes(ByteSet.Of((byte)'<'));
        var bar = Builder.Bytes(ByteSet.Of((byte)'|'));
        int cap = max >= 0 ? max : min;
        var n = new int[cap + 1];
        var l = new int[cap + 1];
        var b = new int[cap + 1];
        for (int i = 0; i <= cap; i++)
        {
            n[i] = Builder.DeclareRule($"chars_{i}");
            l[i] = Builder.DeclareRule($"chars_{i}_lt");
            b[i] = Builder.DeclareRule($"chars_{i}_bar");
        }
        for (int i = 0; i <= cap; i++)
        {
            foreach (var (rule, isLt, isBar) in (ReadOnlySpan<(int, bool, bool)>)[(n[i], false, false), (l[i], true, false), (b[i], false, true)])
            {
                if (i >= min)
                    Builder.AddAlternative(rule, Seq());
                if (max >= 0 && i >= max)
                    continue;
                int j = max >= 0 ? i + 1 : Math.Min(i + 1, cap);
                Builder.AddAlternative(rule, Seq(Builder.Ref(isBar ? otherAfterBar : other), Builder.Ref(n[j])));
                Builder.AddAlternative(rule, Seq(lt, Builder.Ref(l[j])));
                if (!isLt)
                    Builder.AddAlternative(rule, Seq(bar, Builder.Ref(b[j])));
            }
        }
        _stringContent.Add((min, max), n[0]);
        return n[0];
    }

    private int _ordinary = -1, _ordinaryAfterBar = -1;

    /// <summary>One string character other than '&lt;' and '|' (and a second rule that also excludes '&gt;').</summary>
    private (int Other, int OtherAfterBar) OrdinaryCharacters()
    {
        if (_ordinary >= 0)
            return (_ordinary, _ordinaryAfterBar);
        var ascii = _syntax == ValueSyntax.Json
            ? ByteSet.Range(0x20, 0x7F) - ByteSet.OfChars("\"\\<|")
            : ByteSet.Range(0x20, 0x7F) - ByteSet.OfChars("<|") | ByteSet.OfChars("\t\n\r");
        _ordinary = CharacterRule("char", ascii);
        _ordinaryAfterBar = CharacterRule("char_after_bar", ascii - ByteSet.OfChars(">"));
        return (_ordinary, _ordinaryAfterBar);
    }

    private int CharacterRule(string name, ByteSet ascii)
    {
        int rule = Builder.DeclareRule(name);
        Builder.AddAlternative(rule, [Builder.Bytes(ascii)]);
        Builder.AddAlternative(rule, [Builder.Ref(Utf8MultiByte())]);
        if (_syntax == ValueSyntax.Json)
            Builder.AddAlternative(rule, Seq("\\", Builder.Ref(JsonEscape())));
        return rule;
    }

    private int _utf8 = -1, _escape = -1;

    /// <summary>A well-formed multi-byte UTF-8 sequence (no overlongs, no surrogates), per RFC 3629 §4.</summary>
    private int Utf8MultiByte()
    {
        if (_utf8 >= 0)
            return _utf8;
        var tail = Builder.Bytes(ByteSet.Range(0x80, 0xBF));
        GrammarSymbol R(byte a, byte z) => Builder.Bytes(ByteSet.Range(a, z));
        return _utf8 = Builder.Rule("utf8",
            [R(0xC2, 0xDF), tail],
            [R(0xE0, 0xE0), R(0xA0, 0xBF), tail],
            [R(0xE1, 0xEC), tail, tail],
            [R(0xED, 0xED), R(0x80, 0x9F), tail],
            [R(0xEE, 0xEF), tail, tail],
            [R(0xF0, 0xF0), R(0x90, 0xBF), tail, tail],
            [R(0xF1, 0xF3), tail, tail, tail],
            [R(0xF4, 0xF4), R(0x80, 0x8F), tail, tail]);
    }

    /// <summary>What follows a backslash in a JSON string; \u escapes exclude surrogates so every string decodes.</summary>
    private int JsonEscape()
    {
        if (_escape >= 0)
            return _escape;
        var hex = Builder.Bytes(ByteSet.Range((byte)'0', (byte)'9') | ByteSet.Range((byte)'a', (byte)'f') | ByteSet.Range((byte)'A', (byte)'F'));
        return _escape = Builder.Rule("escape",
            [Builder.Bytes(ByteSet.OfChars("\"\\/bfnrt"))],
            Seq("u", Builder.Bytes(ByteSet.Range((byte)'0', (byte)'9') | ByteSet.Range((byte)'a', (byte)'c') | ByteSet.Range((byte)'A', (byte)'C')), hex, hex, hex),
            Seq("u", Builder.Bytes(ByteSet.OfChars("dD")), Builder.Bytes(ByteSet.Range((byte)'0', (byte)'7')), hex, hex),
            Seq("u", Builder.Bytes(ByteSet.OfChars("eEfF")), hex, hex, hex));
    }

    // ---- Scalars ----

    private int Integer()
    {
        if (_integer >= 0)
            return _integer;
        var digit = Builder.Bytes(ByteSet.Range((byte)'0', (byte)'9'));
        var nonZero = Builder.Bytes(ByteSet.Range((byte)'1', (byte)'9'));
        int digits = Digits(digit, 0, 15);
        int unsigned = Builder.Rule("uint", Seq("0"), Seq(nonZero, Builder.Ref(digits)));
        return _integer = Builder.Rule("integer", [Builder.Ref(unsigned)], Seq("-", Builder.Ref(unsigned)));
    }

    private int Number()
    {
        if (_number >= 0)
            return _number;
        var digit = Builder.Bytes(ByteSet.Range((byte)'0', (byte)'9'));
        int fraction = Builder.Rule("fraction", Seq(), Seq(".", Builder.Ref(Digits(digit, 1, 15))));
        int exponent = Builder.Rule("exponent", Seq(),
            Seq(Builder.Bytes(ByteSet.OfChars("eE")), Builder.Ref(Builder.Rule("sign", Seq(), Seq("+"), Seq("-"))), Builder.Ref(Digits(digit, 1, 2))));
        return _number = Builder.Rule("number", Seq(Builder.Ref(Integer()), Builder.Ref(fraction), Builder.Ref(exponent)));
    }

    /// <summary>Between min and max digits: min required ones, then up to max - min optional ones.</summary>
    private int Digits(GrammarSymbol digit, int min, int max)
    {
        int optional = Builder.Rule("digits_opt_0", Seq());
        for (int k = 1; k <= max - min; k++)
            optional = Builder.Rule("digits_opt_" + k, Seq(), Seq(digit, Builder.Ref(optional)));
        var symbols = new List<GrammarSymbol>();
        for (int k = 0; k < min; k++)
            symbols.Add(digit);
        symbols.Add(Builder.Ref(optional));
        return Builder.Rule($"digits_{min}_{max}", symbols);
    }

    private int Boolean() => _boolean >= 0 ? _boolean : _boolean = Builder.Rule("boolean", Seq("true"), Seq("false"));

    private int Null() => _null >= 0 ? _null : _null = Builder.Rule("null", Seq("null"));

    // ---- Any value ----

    /// <summary>Any JSON value (schema <c>{}</c> or <c>true</c>), nesting unbounded.</summary>
    public int AnyValue()
    {
        if (_anyValue >= 0)
            return _anyValue;
        _anyValue = Builder.DeclareRule("value");
        int array = Repeat(_anyValue, 0, null, "[", "]");
        Builder.AddAlternative(_anyValue, [Builder.Ref(AnyObject())]);
        Builder.AddAlternative(_anyValue, [Builder.Ref(array)]);
        Builder.AddAlternative(_anyValue, [Builder.Ref(AnyString())]);
        Builder.AddAlternative(_anyValue, [Builder.Ref(Number())]);
        Builder.AddAlternative(_anyValue, [Builder.Ref(Boolean())]);
        Builder.AddAlternative(_anyValue, [Builder.Ref(Null())]);
        return _anyValue;
    }

    /// <summary>Any JSON object.</summary>
    public int AnyObject()
    {
        if (_anyObject >= 0)
            return _anyObject;
        _anyObject = Builder.DeclareRule("any_object");
        int value = AnyValue();
        var member = Seq(Builder.Ref(AnyKey()), Colon(), Builder.Ref(value));
        int members = Builder.DeclareRule("members");
        Builder.AddAlternative(members, Seq());
        Builder.AddAlternative(members, Seq(Separator(), member, Builder.Ref(members)));
        Builder.AddAlternative(_anyObject, Seq("{", Ws(), "}"));
        Builder.AddAlternative(_anyObject, Seq("{", Ws(), member, Builder.Ref(members), Ws(), "}"));
        return _anyObject;
    }

    /// <summary>Free text: any well-formed UTF-8 (newlines included) that never spells "&lt;|" or "|&gt;".</summary>
    public int FreeText() => StringContent(0, -1);
}

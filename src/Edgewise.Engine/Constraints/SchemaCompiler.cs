using System.Text.Encodings.Web;
using System.Text.Json;

namespace Edgewise.Engine.Constraints;

/// <summary>How values are spelled: standard JSON, or Gemma 4's tool-call syntax (bare keys, <c>&lt;|"|&gt;</c> string quotes, no whitespace).</summary>
internal enum ValueSyntax
{
    Json,
    Gemma,
}

/// <summary>
/// Turns JSON Schemas into grammar rules on a shared <see cref="GrammarBuilder"/>, in either <see cref="ValueSyntax"/>.
/// One instance per grammar; shared building blocks (strings, numbers, whitespace) are made once and reused.
/// </summary>
internal sealed partial class SchemaCompiler
{
    internal const string GemmaQuote = "<|\"|>";

    private static readonly JsonSerializerOptions LiteralJson = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private static readonly HashSet<string> Annotations = new(StringComparer.Ordinal)
    {
        "title", "description", "default", "examples", "$schema", "$id", "$comment", "deprecated", "readOnly",
        "writeOnly", "format", "$defs", "definitions", "strict", "contentMediaType",
    };

    private static readonly HashSet<string> Supported = new(StringComparer.Ordinal)
    {
        "type", "enum", "const", "anyOf", "oneOf", "allOf", "$ref", "nullable", "properties", "required",
        "additionalProperties", "items", "minItems", "maxItems", "minLength", "maxLength",
    };

    private readonly ValueSyntax _syntax;
    private readonly JsonGrammarOptions _options;
    private readonly Dictionary<string, int> _refRules = new(StringComparer.Ordinal);
    private readonly Dictionary<(int Min, int Max), int> _stringContent = [];
    private JsonElement _document;
    private int _ws = -1, _integer = -1, _number = -1, _boolean = -1, _null = -1, _anyValue = -1, _anyObject = -1;
    private int _anyString = -1, _key = -1;

    public SchemaCompiler(GrammarBuilder builder, ValueSyntax syntax, JsonGrammarOptions options)
    {
        Builder = builder;
        _syntax = syntax;
        _options = options;
    }

    public GrammarBuilder Builder { get; }

    /// <summary>Compiles a whole schema document; <c>$ref</c>s resolve against it.</summary>
    public int CompileDocument(JsonElement document)
    {
        _document = document;
        return Compile(document, "");
    }

    /// <summary>root ::= ws value ws</summary>
    public int RootWithWhitespace(int value) => Builder.Rule("root", Seq(Ws(), Builder.Ref(value), Ws()));

    // ---- Schema dispatch ----

    private int Compile(JsonElement schema, string pointer)
    {
        if (schema.ValueKind == JsonValueKind.True)
            return AnyValue();
        if (schema.ValueKind == JsonValueKind.False)
            throw new SchemaCompileException(pointer, "schema 'false' matches nothing");
        if (schema.ValueKind != JsonValueKind.Object)
            throw new SchemaCompileException(pointer, $"expected a schema object or boolean, found {schema.ValueKind}");

        foreach (var property in schema.EnumerateObject())
        {
            if (!Supported.Contains(property.Name) && !Annotations.Contains(property.Name))
                throw new SchemaCompileException(pointer, $"keyword '{property.Name}' is not supported by the grammar compiler");
        }

        bool nullable = schema.TryGetProperty("nullable", out var n) && n.ValueKind == JsonValueKind.True;
        int rule = CompileNonNull(schema, pointer);
        return nullable ? Builder.Rule("nullable", [Builder.Ref(rule)], [Builder.Ref(Null())]) : rule;
    }

    private int CompileNonNull(JsonElement schema, string pointer)
    {
        if (schema.TryGetProperty("$ref", out var reference))
        {
            RejectSiblings(schema, pointer, "$ref");
            return Reference(reference, pointer);
        }
        if (schema.TryGetProperty("const", out var constant))
        {
            RejectSiblings(schema, pointer, "const");
            return Builder.Rule("const", Literal(constant));
        }
        if (schema.TryGetProperty("enum", out var values))
        {
            RejectSiblings(schema, pointer, "enum", "type");
            if (values.ValueKind != JsonValueKind.Array || values.GetArrayLength() == 0)
                throw new SchemaCompileException(pointer + "/enum", "expected a non-empty array");
            int rule = Builder.DeclareRule("enum");
            foreach (var value in values.EnumerateArray())
                Builder.AddAlternative(rule, Literal(value));
            return rule;
        }
        foreach (string combinator in (string[])["anyOf", "oneOf", "allOf"])
        {
            if (!schema.TryGetProperty(combinator, out var branches))
                continue;
            RejectSiblings(schema, pointer, combinator);
            if (branches.ValueKind != JsonValueKind.Array || branches.GetArrayLength() == 0)
                throw new SchemaCompileException(pointer + "/" + combinator, "expected a non-empty array of schemas");
            if (combinator == "allOf" && branches.GetArrayLength() != 1)
                throw new SchemaCompileException(pointer + "/allOf", "allOf with more than one schema is not supported");
            int rule = Builder.DeclareRule(combinator);
            int i = 0;
            foreach (var branch in branches.EnumerateArray())
                Builder.AddAlternative(rule, [Builder.Ref(Compile(branch, $"{pointer}/{combinator}/{i++}"))]);
            return rule;
        }

        if (!schema.TryGetProperty("type", out var type))
        {
            if (schema.TryGetProperty("properties", out _) || schema.TryGetProperty("additionalProperties", out _) || schema.TryGetProperty("required", out _))
                return CompileType(schema, "object", pointer);
            if (schema.TryGetProperty("items", out _) || schema.TryGetProperty("minItems", out _) || schema.TryGetProperty("maxItems", out _))
                return CompileType(schema, "array", pointer);
            if (schema.TryGetProperty("minLength", out _) || schema.TryGetProperty("maxLength", out _))
                return CompileType(schema, "string", pointer);
            return AnyValue();
        }
        if (type.ValueKind == JsonValueKind.String)
            return CompileType(schema, type.GetString()!, pointer);
        if (type.ValueKind == JsonValueKind.Array && type.GetArrayLength() > 0)
        {
            int rule = Builder.DeclareRule("types");
            foreach (var t in type.EnumerateArray())
            {
                if (t.ValueKind != JsonValueKind.String)
                    throw new SchemaCompileException(pointer + "/type", $"expected type names, found {t.ValueKind}");
                Builder.AddAlternative(rule, [Builder.Ref(CompileType(schema, t.GetString()!, pointer))]);
            }
            return rule;
        }
        throw new SchemaCompileException(pointer + "/type", "expected a type name or a non-empty array of them");
    }

    private int CompileType(JsonElement schema, string type, string pointer) => type switch
    {
        "object" => ObjectRule(schema, pointer),
        "array" => ArrayRule(schema, pointer),
        "string" => StringRule(schema, pointer),
        "integer" => Integer(),
        "number" => Number(),
        "boolean" => Boolean(),
        "null" => Null(),
        _ => throw new SchemaCompileException(pointer + "/type", $"unknown type '{type}'"),
    };

    private static void RejectSiblings(JsonElement schema, string pointer, params string[] allowed)
    {
        foreach (var property in schema.EnumerateObject())
        {
            if (!Annotations.Contains(property.Name) && property.Name != "nullable" && Array.IndexOf(allowed, property.Name) < 0)
                throw new SchemaCompileException(pointer, $"'{property.Name}' next to '{allowed[0]}' is not supported");
        }
    }

    private int Reference(JsonElement reference, string pointer)
    {
        string target = reference.GetString() ?? "";
        if (!target.StartsWith('#'))
            throw new SchemaCompileException(pointer + "/$ref", $"only references inside the document are supported, found '{target}'");
        string targetPointer = target[1..];
        if (_refRules.TryGetValue(targetPointer, out int existing))
            return existing;
        var resolved = Resolve(targetPointer, pointer);
        // Declared before compiling the target, so recursive schemas refer back to this rule.
        int rule = Builder.DeclareRule("ref" + targetPointer.Replace('/', '_'));
        _refRules.Add(targetPointer, rule);
        Builder.AddAlternative(rule, [Builder.Ref(Compile(resolved, targetPointer))]);
        return rule;
    }

    private JsonElement Resolve(string targetPointer, string pointer)
    {
        var current = _document;
        if (targetPointer.Length == 0)
            return current;
        foreach (string rawSegment in targetPointer[1..].Split('/'))
        {
            string segment = rawSegment.Replace("~1", "/").Replace("~0", "~");
            if (current.ValueKind == JsonValueKind.Object && current.TryGetProperty(segment, out var next))
                current = next;
            else if (current.ValueKind == JsonValueKind.Array && int.TryParse(segment, out int index) && index >= 0 && index < current.GetArrayLength())
                current = current[index];
            else
                throw new SchemaCompileException(pointer + "/$ref", $"reference '#{targetPointer}' does not resolve (no '{segment}')");
        }
        return current;
    }

    // ---- Sequences ----

    /// <summary>Concatenates symbols, symbol lists and literal strings into one alternative.</summary>
    private List<GrammarSymbol> Seq(params object[] parts)
    {
        var symbols = new List<GrammarSymbol>();
        foreach (var part in parts)
        {
            switch (part)
            {
                case GrammarSymbol s: symbols.Add(s); break;
                case string text: symbols.AddRange(Builder.Literal(text)); break;
                case IEnumerable<GrammarSymbol> list: symbols.AddRange(list); break;
                default: throw new ArgumentException($"unexpected part {part}", nameof(parts));
            }
        }
        return symbols;
    }

    /// <summary>Optional bounded whitespace in JSON; nothing in Gemma syntax.</summary>
    private List<GrammarSymbol> Ws()
    {
        if (_syntax == ValueSyntax.Gemma || _options.MaxWhitespace <= 0)
            return [];
        if (_ws < 0)
        {
            var space = Builder.Bytes(ByteSet.OfChars(" \t\n\r"));
            int next = Builder.Rule("ws0", Seq());
            for (int k = 1; k <= _options.MaxWhitespace; k++)
                next = Builder.Rule("ws" + k, Seq(), Seq(space, Builder.Ref(next)));
            _ws = next;
        }
        return [Builder.Ref(_ws)];
    }

    private List<GrammarSymbol> Separator() => Seq(Ws(), ",", Ws());

    private List<GrammarSymbol> Literal(JsonElement value) => _syntax == ValueSyntax.Json
        ? Seq(JsonSerializer.Serialize(value, LiteralJson))
        : GemmaLiteral(value);

    private List<GrammarSymbol> GemmaLiteral(JsonElement value)
    {
        switch (value.ValueKind)
        {
            case JsonValueKind.String:
                return Seq(Builder.Token(GemmaQuote), value.GetString()!, Builder.Token(GemmaQuote));
            case JsonValueKind.Array:
            {
                var symbols = Seq("[");
                bool first = true;
                foreach (var item in value.EnumerateArray())
                {
                    if (!first)
                        symbols.AddRange(Seq(","));
                    symbols.AddRange(GemmaLiteral(item));
                    first = false;
                }
                symbols.AddRange(Seq("]"));
                return symbols;
            }
            case JsonValueKind.Object:
            {
                var symbols = Seq("{");
                bool first = true;
                foreach (var member in value.EnumerateObject())
                {
                    symbols.AddRange(Seq(first ? "" : ",", member.Name, ":"));
                    symbols.AddRange(GemmaLiteral(member.Value));
                    first = false;
                }
                symbols.AddRange(Seq("}"));
                return symbols;
            }
            default:
                return Seq(value.GetRawText());
        }
    }
}

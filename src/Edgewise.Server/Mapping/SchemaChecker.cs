using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Edgewise.Server.Backend;

namespace Edgewise.Server.Mapping;

/// <summary>
/// Structural check of a JSON Schema before it reaches the constrained decoder: keywords have the
/// types the spec gives them, local <c>$ref</c>s resolve, patterns compile. Errors carry a JSON Pointer.
/// It does not decide what the decoder supports; the engine reports that with the same exception.
/// </summary>
internal static class SchemaChecker
{
    private const int MaxDepth = 64;

    private static readonly HashSet<string> s_typeNames = ["object", "array", "string", "number", "integer", "boolean", "null"];
    private static readonly string[] s_schemaMapKeywords = ["properties", "patternProperties", "$defs", "definitions", "dependentSchemas"];
    private static readonly string[] s_schemaKeywords = ["additionalProperties", "items", "additionalItems", "contains", "not", "if", "then", "else", "propertyNames", "unevaluatedProperties", "unevaluatedItems"];
    private static readonly string[] s_schemaListKeywords = ["anyOf", "oneOf", "allOf", "prefixItems"];
    private static readonly string[] s_countKeywords = ["minLength", "maxLength", "minItems", "maxItems", "minProperties", "maxProperties", "minContains", "maxContains"];
    private static readonly string[] s_numberKeywords = ["minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"];

    /// <summary>Throws <see cref="InvalidSchemaException"/> unless <paramref name="schema"/> is a well-formed schema object.</summary>
    public static void Check(JsonElement schema, string param)
    {
        if (schema.ValueKind != JsonValueKind.Object)
            throw new InvalidSchemaException(param, "", $"a schema must be a JSON object, found {Kind(schema)}");
        Walk(schema, schema, "", param, 0);
    }

    private static void Walk(JsonElement root, JsonElement schema, string pointer, string param, int depth)
    {
        if (depth > MaxDepth)
            throw new InvalidSchemaException(param, pointer, $"nesting deeper than {MaxDepth} levels");
        if (schema.ValueKind is JsonValueKind.True or JsonValueKind.False)
            return;
        if (schema.ValueKind != JsonValueKind.Object)
            throw new InvalidSchemaException(param, pointer, $"expected a schema (object or boolean), found {Kind(schema)}");

        foreach (var property in schema.EnumerateObject())
        {
            var at = pointer + "/" + Escape(property.Name);
            var value = property.Value;
            switch (property.Name)
            {
                case "type":
                    CheckType(value, at, param);
                    break;
                case "required":
                    if (value.ValueKind != JsonValueKind.Array || value.EnumerateArray().Any(v => v.ValueKind != JsonValueKind.String))
                        throw new InvalidSchemaException(param, at, $"expected an array of property names, found {Kind(value)}");
                    break;
                case "enum":
                    if (value.ValueKind != JsonValueKind.Array || value.GetArrayLength() == 0)
                        throw new InvalidSchemaException(param, at, "expected a non-empty array");
                    break;
                case "$ref":
                    CheckRef(root, value, at, param);
                    break;
                case "pattern":
                    CheckPattern(value, at, param);
                    break;
                case "items" when value.ValueKind == JsonValueKind.Array:
                    WalkList(root, value, at, param, depth); // draft-4 tuple form
                    break;
                default:
                    if (Array.IndexOf(s_schemaMapKeywords, property.Name) >= 0)
                    {
                        if (value.ValueKind != JsonValueKind.Object)
                            throw new InvalidSchemaException(param, at, $"expected an object of schemas, found {Kind(value)}");
                        foreach (var child in value.EnumerateObject())
                            Walk(root, child.Value, at + "/" + Escape(child.Name), param, depth + 1);
                    }
                    else if (Array.IndexOf(s_schemaKeywords, property.Name) >= 0)
                    {
                        Walk(root, value, at, param, depth + 1);
                    }
                    else if (Array.IndexOf(s_schemaListKeywords, property.Name) >= 0)
                    {
                        if (value.ValueKind != JsonValueKind.Array || value.GetArrayLength() == 0)
                            throw new InvalidSchemaException(param, at, $"expected a non-empty array of schemas, found {Kind(value)}");
                        WalkList(root, value, at, param, depth);
                    }
                    else if (Array.IndexOf(s_countKeywords, property.Name) >= 0)
                    {
                        if (value.ValueKind != JsonValueKind.Number || !value.TryGetInt64(out var n) || n < 0)
                            throw new InvalidSchemaException(param, at, $"expected a non-negative integer, found {Text(value)}");
                    }
                    else if (Array.IndexOf(s_numberKeywords, property.Name) >= 0)
                    {
                        // Draft 4 spelled exclusiveMinimum/Maximum as booleans.
                        if (value.ValueKind != JsonValueKind.Number && !(property.Name.StartsWith("exclusive", StringComparison.Ordinal) && value.ValueKind is JsonValueKind.True or JsonValueKind.False))
                            throw new InvalidSchemaException(param, at, $"expected a number, found {Kind(value)}");
                    }

                    break;
            }
        }
    }

    private static void WalkList(JsonElement root, JsonElement list, string at, string param, int depth)
    {
        var i = 0;
        foreach (var item in list.EnumerateArray())
            Walk(root, item, at + "/" + (i++).ToString(CultureInfo.InvariantCulture), param, depth + 1);
    }

    private static void CheckType(JsonElement value, string at, string param)
    {
        if (value.ValueKind == JsonValueKind.String)
        {
            if (!s_typeNames.Contains(value.GetString()!))
                throw new InvalidSchemaException(param, at, $"unknown type '{value.GetString()}'; expected one of {string.Join(", ", s_typeNames)}");
            return;
        }

        if (value.ValueKind == JsonValueKind.Array && value.GetArrayLength() > 0)
        {
            foreach (var item in value.EnumerateArray())
            {
                if (item.ValueKind != JsonValueKind.String || !s_typeNames.Contains(item.GetString()!))
                    throw new InvalidSchemaException(param, at, $"unknown type {Text(item)} in the type list");
            }

            return;
        }

        throw new InvalidSchemaException(param, at, $"expected a type name or a non-empty array of them, found {Text(value)}");
    }

    private static void CheckRef(JsonElement root, JsonElement value, string at, string param)
    {
        if (value.ValueKind != JsonValueKind.String)
            throw new InvalidSchemaException(param, at, $"expected a string, found {Kind(value)}");
        var reference = value.GetString()!;
        if (!reference.StartsWith('#'))
            throw new InvalidSchemaException(param, at, $"only local references ('#/...') are supported, found '{reference}'");
        var target = root;
        foreach (var raw in reference[1..].Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            var segment = Uri.UnescapeDataString(raw).Replace("~1", "/", StringComparison.Ordinal).Replace("~0", "~", StringComparison.Ordinal);
            if (target.ValueKind != JsonValueKind.Object || !target.TryGetProperty(segment, out target))
                throw new InvalidSchemaException(param, at, $"reference '{reference}' does not resolve inside the schema");
        }
    }

    private static void CheckPattern(JsonElement value, string at, string param)
    {
        if (value.ValueKind != JsonValueKind.String)
            throw new InvalidSchemaException(param, at, $"expected a regular expression string, found {Kind(value)}");
        try
        {
            _ = new Regex(value.GetString()!, RegexOptions.None, TimeSpan.FromMilliseconds(100));
        }
        catch (ArgumentException ex)
        {
            throw new InvalidSchemaException(param, at, $"the pattern does not compile: {ex.Message}");
        }
    }

    private static string Escape(string name) => name.Replace("~", "~0", StringComparison.Ordinal).Replace("/", "~1", StringComparison.Ordinal);

    private static string Kind(JsonElement e) => e.ValueKind.ToString().ToLowerInvariant();

    private static string Text(JsonElement e) => e.ValueKind == JsonValueKind.String ? $"'{e.GetString()}'" : e.GetRawText();
}

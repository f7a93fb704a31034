using System.Text.Json;

namespace Edgewise.Engine.Constraints;

/// <summary>Options of the JSON grammars.</summary>
public sealed record JsonGrammarOptions
{
    /// <summary>
    /// Whitespace allowed at each place JSON allows it (after <c>{</c>, <c>[</c>, <c>,</c>, <c>:</c>, before closers).
    /// Bounded, so a model cannot stall forever on spaces; 0 forces compact output.
    /// </summary>
    public int MaxWhitespace { get; init; } = 8;

    /// <summary>
    /// OpenAI strict mode: an object schema without <c>additionalProperties</c> admits only its listed properties.
    /// When false, a missing <c>additionalProperties</c> allows extra members after the listed ones.
    /// </summary>
    public bool Strict { get; init; } = true;
}

/// <summary>Compiles JSON Schemas (and the plain <c>json_object</c> response format) into byte-level grammars.</summary>
/// <remarks>
/// Supported: <c>type</c> (also as an array), <c>properties</c>, <c>required</c>, <c>additionalProperties</c>,
/// <c>items</c>, <c>minItems</c>, <c>maxItems</c>, <c>minLength</c>, <c>maxLength</c>, <c>enum</c>, <c>const</c>,
/// <c>anyOf</c>, <c>oneOf</c> (branches are not made mutually exclusive), <c>allOf</c> with one branch, <c>$ref</c>
/// within the document (<c>$defs</c>, <c>definitions</c>, <c>#</c>), OpenAPI <c>nullable</c>, and annotations
/// (<c>title</c>, <c>description</c>, <c>format</c>, ...). Anything else throws <see cref="SchemaCompileException"/>
/// naming its JSON pointer. Properties come out in schema order. Numbers are bounded (16 integer digits, 15
/// fraction digits, 2 exponent digits) so they always end. Strings never contain <c>&lt;|</c> or <c>|&gt;</c>, so
/// generated text can never spell a Gemma control token.
/// </remarks>
public static class JsonSchemaGrammar
{
    public static Grammar FromSchema(string schemaJson, JsonGrammarOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(schemaJson);
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(schemaJson);
        }
        catch (JsonException e)
        {
            throw new SchemaCompileException("", $"not valid JSON: {e.Message}");
        }
        using (document)
            return FromSchema(document.RootElement, options);
    }

    public static Grammar FromSchema(JsonElement schema, JsonGrammarOptions? options = null)
    {
        var compiler = new SchemaCompiler(new GrammarBuilder(), ValueSyntax.Json, options ?? new JsonGrammarOptions());
        int value = compiler.CompileDocument(schema);
        return compiler.Builder.Build(compiler.RootWithWhitespace(value));
    }

    /// <summary>Any JSON object (OpenAI <c>response_format: json_object</c>).</summary>
    public static Grammar AnyObject(JsonGrammarOptions? options = null)
    {
        var compiler = new SchemaCompiler(new GrammarBuilder(), ValueSyntax.Json, options ?? new JsonGrammarOptions());
        return compiler.Builder.Build(compiler.RootWithWhitespace(compiler.AnyObject()));
    }
}

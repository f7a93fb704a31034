using Edgewise.Engine.Constraints;
using Xunit;

namespace Edgewise.Engine.Tests.Constraints;

public sealed class SchemaCompilerTests
{
    [Theory]
    [InlineData("""{"type":"object","properties":{"code":{"type":"string","pattern":"^[A-Z]+$"}}}""", "/properties/code", "pattern")]
    [InlineData("""{"type":"object","properties":{"n":{"type":"integer","minimum":0}}}""", "/properties/n", "minimum")]
    [InlineData("""{"type":"array","items":{"not":{"type":"null"}}}""", "/items", "not")]
    [InlineData("""{"$ref":"https://example.com/other.json"}""", "/$ref", "inside the document")]
    [InlineData("""{"$ref":"#/$defs/missing"}""", "/$ref", "does not resolve")]
    [InlineData("""{"allOf":[{"type":"string"},{"maxLength":3}]}""", "/allOf", "more than one")]
    [InlineData("""{"type":"object","properties":{"a":{"type":"string"}},"required":["b"]}""", "/required", "'b'")]
    [InlineData("""{"type":"strange"}""", "/type", "unknown type")]
    [InlineData("""{"enum":[]}""", "/enum", "non-empty")]
    [InlineData("""{"type":"string","minLength":5,"maxLength":2}""", "", "below minLength")]
    public void Unsupported_OrInvalid_SchemasNameTheirPointer(string schema, string pointer, string fragment)
    {
        var e = Assert.Throws<SchemaCompileException>(() => JsonSchemaGrammar.FromSchema(schema));
        Assert.Equal(pointer, e.Pointer);
        Assert.Contains(fragment, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void NotJson_IsASchemaError()
    {
        Assert.Throws<SchemaCompileException>(() => JsonSchemaGrammar.FromSchema("{\"type\":"));
    }

    [Fact]
    public void Annotations_AreIgnored_AndRecursiveRefsCompile()
    {
        var grammar = JsonSchemaGrammar.FromSchema("""
            {"$schema":"https://json-schema.org/draft/2020-12/schema","title":"Tree","description":"d",
             "type":"object","properties":{"kids":{"type":"array","items":{"$ref":"#"}},"when":{"type":"string","format":"date-time"}}}
            """);
        Assert.Contains(grammar.RuleNames, n => n.StartsWith("ref", StringComparison.Ordinal));
        var matcher = ConstrainedRun.Compile(grammar).CreateMatcher();
        Assert.True(matcher.AcceptBytes("{\"kids\": [{\"kids\":[]}, {}]}"u8));
        Assert.True(matcher.CanEnd);
    }

    [Fact]
    public void Whitespace_IsBounded()
    {
        var grammar = ConstrainedRun.Compile(JsonSchemaGrammar.FromSchema("""{"type":"array","items":{"type":"integer"}}""", new JsonGrammarOptions { MaxWhitespace = 3 }));
        var matcher = grammar.CreateMatcher();
        Assert.True(matcher.AcceptBytes("[   "u8));
        Assert.False(matcher.AcceptBytes(" "u8));
        Assert.True(matcher.AcceptBytes("1 ,\n\t 2]"u8));
    }

    [Fact]
    public void StrictMode_ForbidsExtraProperties_LaxModeAllowsThem()
    {
        const string schema = """{"type":"object","properties":{"a":{"type":"integer"}}}""";
        var strict = ConstrainedRun.Compile(JsonSchemaGrammar.FromSchema(schema)).CreateMatcher();
        Assert.False(strict.AcceptBytes("{\"a\":1,\"b\""u8));
        var lax = ConstrainedRun.Compile(JsonSchemaGrammar.FromSchema(schema, new JsonGrammarOptions { Strict = false })).CreateMatcher();
        Assert.True(lax.AcceptBytes("{\"a\":1,\"b\":[true]}"u8));
        Assert.True(lax.CanEnd);
    }
}

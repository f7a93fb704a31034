using System.Text.Json;
using Edgewise.Engine.Constraints;
using Xunit;

namespace Edgewise.Engine.Tests.Constraints;

/// <summary>Random logits under a schema grammar must always give JSON that parses and validates (JsonSchema.Net).</summary>
public sealed class JsonSchemaGenerationTests
{
    public static readonly TheoryData<string, string> Schemas = new()
    {
        { "flat", """{"type":"object","properties":{"name":{"type":"string","maxLength":12},"age":{"type":"integer"},"ok":{"type":"boolean"}},"required":["name","age","ok"],"additionalProperties":false}""" },
        { "optional", """{"type":"object","properties":{"a":{"type":"integer"},"b":{"type":"string","maxLength":5},"c":{"type":"null"}},"required":["b"]}""" },
        { "nested", """{"type":"object","properties":{"user":{"type":"object","properties":{"id":{"type":"integer"},"address":{"type":"object","properties":{"city":{"type":"string","maxLength":8},"zip":{"type":["string","null"],"maxLength":6}},"required":["city","zip"]}},"required":["id","address"]},"score":{"type":"number"}},"required":["user","score"]}""" },
        { "arrays", """{"type":"object","properties":{"tags":{"type":"array","items":{"type":"string","maxLength":6},"minItems":1,"maxItems":4},"matrix":{"type":"array","items":{"type":"array","items":{"type":"integer"},"maxItems":3},"maxItems":3}},"required":["tags","matrix"]}""" },
        { "enums", """{"type":"object","properties":{"unit":{"enum":["celsius","fahrenheit"]},"level":{"enum":[1,2,3,null]},"kind":{"const":"fixed"},"color":{"type":"string","enum":["red","green","blue"]}},"required":["unit","level","kind","color"]}""" },
        { "anyOf", """{"type":"object","properties":{"value":{"anyOf":[{"type":"integer"},{"type":"object","properties":{"x":{"type":"number"}},"required":["x"]},{"type":"array","items":{"type":"boolean"},"maxItems":2}]},"id":{"oneOf":[{"type":"string","maxLength":4},{"type":"integer"}]}},"required":["value","id"]}""" },
        { "refs", """{"$defs":{"node":{"type":"object","properties":{"label":{"type":"string","maxLength":6},"next":{"anyOf":[{"$ref":"#/$defs/node"},{"type":"null"}]}},"required":["label","next"]}},"type":"object","properties":{"head":{"$ref":"#/$defs/node"}},"required":["head"]}""" },
        { "top-level-array", """{"type":"array","items":{"type":"number"},"minItems":2,"maxItems":5}""" },
        { "lengths", """{"type":"object","properties":{"code":{"type":"string","minLength":2,"maxLength":3},"note":{"type":"string","maxLength":20}},"required":["code","note"]}""" },
    };

    [Theory]
    [MemberData(nameof(Schemas))]
    public void RandomLogits_AlwaysGiveValidJson(string name, string schemaText)
    {
        var grammar = ConstrainedRun.Compile(JsonSchemaGrammar.FromSchema(schemaText));
        var schema = ConstrainedRun.Schema(schemaText);
        int stopped = 0;
        for (ulong seed = 0; seed < 120; seed++)
        {
            var (tokens, done) = ConstrainedRun.Generate(grammar, seed);
            if (!done)
                continue; // ran out of tokens mid-value: the engine would report finish_reason "length"
            stopped++;
            string text = ConstrainedRun.Tokenizer.Value.Decode(tokens.ToArray());
            Assert.True(ConstrainedRun.Validates(schema, text, out string detail), $"{name} seed {seed}: {text}\n{detail}");
        }
        Assert.True(stopped >= 100, $"{name}: only {stopped} of 120 runs finished within 400 tokens");
    }

    [Fact]
    public void JsonObjectMode_AlwaysGivesAnObject()
    {
        var grammar = ConstrainedRun.Compile(JsonSchemaGrammar.AnyObject(new JsonGrammarOptions { MaxWhitespace = 2 }));
        var tokenizer = ConstrainedRun.Tokenizer.Value;
        // Unbounded nesting under uniform logits is a random walk that often outlives any budget; favour closers a little.
        var bias = new[] { "}", "]", "}}", "]]", "\"}", "\"]", "}," }.ToDictionary(tokenizer.Id, _ => 2.5f);
        int stopped = 0;
        for (ulong seed = 0; seed < 40; seed++)
        {
            var (tokens, done) = ConstrainedRun.Generate(grammar, seed, bias: bias);
            if (!done)
                continue;
            stopped++;
            string text = ConstrainedRun.Tokenizer.Value.Decode(tokens.ToArray());
            using var document = JsonDocument.Parse(text);
            Assert.Equal(JsonValueKind.Object, document.RootElement.ValueKind);
        }
        Assert.True(stopped >= 20, $"only {stopped} of 40 runs finished");
    }

    [Fact]
    public void Strings_NeverSpellAControlToken()
    {
        var grammar = ConstrainedRun.Compile(JsonSchemaGrammar.FromSchema("""{"type":"array","items":{"type":"string"},"maxItems":3}"""));
        for (ulong seed = 0; seed < 60; seed++)
        {
            var (tokens, _) = ConstrainedRun.Generate(grammar, seed, maxTokens: 200);
            string text = ConstrainedRun.Tokenizer.Value.Decode(tokens.ToArray());
            Assert.DoesNotContain("<|", text, StringComparison.Ordinal);
            Assert.DoesNotContain("|>", text, StringComparison.Ordinal);
        }
    }
}

using System.Text.Json;
using Edgewise.Engine.Constraints;
using Xunit;

namespace Edgewise.Engine.Tests.Constraints;

public sealed class ToolCallGrammarTests
{
    private static readonly (string Name, string? Schema)[] ToolSchemas =
    [
        ("get_weather", """{"type":"object","properties":{"city":{"type":"string","maxLength":10},"unit":{"type":"string","enum":["C","F"]}},"required":["city"]}"""),
        ("search", """{"type":"object","properties":{"query":{"type":"string","maxLength":12},"limit":{"type":"integer"},"filters":{"type":"object","properties":{"tags":{"type":"array","items":{"type":"string","maxLength":5},"maxItems":3},"exact":{"type":"boolean"}}}},"required":["query"]}"""),
        ("set_level", """{"type":"object","properties":{"level":{"type":["integer","null"]},"ratio":{"type":"number"}},"required":["level","ratio"],"additionalProperties":false}"""),
        ("ping", null),
    ];

    private static List<ToolFunction> Tools() =>
        [.. ToolSchemas.Select(t => new ToolFunction(t.Name, t.Schema is null ? null : JsonDocument.Parse(t.Schema).RootElement.Clone()))];

    private static readonly Dictionary<string, Json.Schema.JsonSchema?> Validators =
        ToolSchemas.ToDictionary(t => t.Name, t => t.Schema is null ? null : ConstrainedRun.Schema(t.Schema));

    private static List<GemmaCallParser.Parsed> Run(ToolChoice choice, bool parallel, int seeds, bool thinking = false)
    {
        var grammar = ConstrainedRun.Compile(GemmaToolCallGrammar.Create(Tools(), choice, parallel, thinking));
        var tokenizer = ConstrainedRun.Tokenizer.Value;
        // Free text ends only on a stop token, one id among thousands: nudge it and the call opener up.
        var bias = new Dictionary<int, float> { [tokenizer.EosId] = 4f, [tokenizer.Id("<|tool_call>")] = 4f };
        var results = new List<GemmaCallParser.Parsed>();
        for (ulong seed = 0; seed < (ulong)seeds; seed++)
        {
            var (tokens, done) = ConstrainedRun.Generate(grammar, seed, maxTokens: 300, bias: bias);
            if (!done)
                continue;
            var parsed = GemmaCallParser.Parse(tokenizer, tokens);
            foreach (var (name, arguments) in parsed.Calls)
            {
                Assert.True(Validators.ContainsKey(name), $"unknown tool '{name}'");
                if (Validators[name] is { } schema)
                    Assert.True(ConstrainedRun.Validates(schema, arguments.ToJsonString(), out string detail), $"{name}{arguments.ToJsonString()}: {detail}");
                else
                    Assert.Empty(arguments);
            }
            results.Add(parsed);
        }
        Assert.True(results.Count >= seeds / 2, $"only {results.Count} of {seeds} runs finished");
        return results;
    }

    [Fact]
    public void Required_AlwaysCallsAtLeastOneTool_WithValidArguments()
    {
        var results = Run(ToolChoice.Required, parallel: true, seeds: 80);
        Assert.All(results, r => Assert.Equal("", r.Text));
        Assert.All(results, r => Assert.NotEmpty(r.Calls));
        Assert.Contains(results, r => r.Calls.Count > 1); // parallel calls do happen
        Assert.Equal(4, results.SelectMany(r => r.Calls).Select(c => c.Name).Distinct().Count());
    }

    [Fact]
    public void NamedFunction_CallsExactlyThatFunctionOnce()
    {
        var results = Run(ToolChoice.Function("search"), parallel: true, seeds: 60);
        Assert.All(results, r => Assert.Equal("search", Assert.Single(r.Calls).Name));
    }

    [Fact]
    public void None_NeverEmitsASpecialToken()
    {
        var results = Run(ToolChoice.None, parallel: true, seeds: 40);
        Assert.All(results, r =>
        {
            Assert.Empty(r.Calls);
            Assert.False(r.SawSpecialInText);
            Assert.DoesNotContain("<|", r.Text, StringComparison.Ordinal);
            Assert.DoesNotContain("|>", r.Text, StringComparison.Ordinal);
        });
    }

    [Fact]
    public void Auto_AllowsTextThenCalls_AndSingleCallWhenNotParallel()
    {
        var results = Run(ToolChoice.Auto, parallel: false, seeds: 80);
        Assert.All(results, r => Assert.True(r.Calls.Count <= 1));
        Assert.All(results, r => Assert.False(r.SawSpecialInText));
        Assert.Contains(results, r => r.Calls.Count == 1);
    }

    [Fact]
    public void ForcedPrefix_TheMatcherFollowsATypicalCall()
    {
        var tokenizer = ConstrainedRun.Tokenizer.Value;
        var grammar = ConstrainedRun.Compile(GemmaToolCallGrammar.Create(Tools(), ToolChoice.Required));
        var matcher = grammar.CreateMatcher();
        Assert.False(matcher.Accept(tokenizer.Id("call:")));  // the call must open with the control token
        Assert.True(matcher.Accept(tokenizer.Id("<|tool_call>")));
        foreach (int id in tokenizer.Encode("call:get_weather{city:"))
            Assert.True(matcher.Accept(id), tokenizer.TokenPiece(id));
        Assert.False(matcher.Accept(tokenizer.Id("\"")));    // a JSON quote is not a Gemma string quote
        Assert.True(matcher.Accept(tokenizer.Id("<|\"|>")));
        foreach (int id in tokenizer.Encode("Paris"))
            Assert.True(matcher.Accept(id));
        Assert.False(matcher.Accept(tokenizer.Id("<|")));    // ordinary pieces cannot spell a control token
        Assert.True(matcher.Accept(tokenizer.Id("<|\"|>")));
        Assert.False(matcher.Accept(tokenizer.Id("<tool_call|>"))); // fine by the schema: unit is optional ...
        Assert.True(matcher.IsAllowed(tokenizer.Id("}")));          // ... but the object must close first
        Assert.True(matcher.Accept(tokenizer.Id("}")));
        Assert.False(matcher.CanEnd);
        Assert.True(matcher.Accept(tokenizer.Id("<tool_call|>")));
        Assert.True(matcher.CanEnd);
        Assert.True(matcher.Accept(tokenizer.EosId));
        Assert.True(matcher.IsTerminated);
    }

    [Fact]
    public void Thinking_MayComeFirst()
    {
        var tokenizer = ConstrainedRun.Tokenizer.Value;
        var matcher = ConstrainedRun.Compile(GemmaToolCallGrammar.Create(Tools(), ToolChoice.Required, allowThinking: true)).CreateMatcher();
        Assert.True(matcher.Accept(tokenizer.Id("<|channel>")));
        foreach (int id in tokenizer.Encode("hello world"))
            Assert.True(matcher.Accept(id));
        Assert.True(matcher.Accept(tokenizer.Id("<channel|>")));
        Assert.False(matcher.CanEnd); // required: a call must still follow
        Assert.True(matcher.Accept(tokenizer.Id("<|tool_call>")));
    }

    [Fact]
    public void BadToolChoices_AreRejected()
    {
        Assert.Throws<SchemaCompileException>(() => GemmaToolCallGrammar.Create(Tools(), ToolChoice.Function("nope")));
        Assert.Throws<SchemaCompileException>(() => GemmaToolCallGrammar.Create([], ToolChoice.Required));
        var e = Assert.Throws<SchemaCompileException>(() => GemmaToolCallGrammar.Create(
            [new ToolFunction("f", JsonDocument.Parse("""{"type":"object","properties":{"x":{"type":"string","pattern":"^a"}}}""").RootElement)], ToolChoice.Auto));
        Assert.Equal("/properties/x", e.Pointer);
        Assert.Contains("tool 'f'", e.Message, StringComparison.Ordinal);
    }
}

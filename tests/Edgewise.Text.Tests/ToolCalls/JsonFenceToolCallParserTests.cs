using Edgewise.Text.Chat;
using Edgewise.Text.Tests.Templates;
using Edgewise.Text.ToolCalls;
using Xunit;

namespace Edgewise.Text.Tests.ToolCalls;

public sealed class JsonFenceToolCallParserTests
{
    private const string Call = "```tool_call\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n```";

    public static TheoryData<string, string, string, string> Cases() => new()
    {
        { "Just text, with `code` and ``` fences ```.", "Just text, with `code` and ``` fences ```.", "", "" },
        { "Let me check.\n" + Call, "Let me check.\n", "get_weather={\"city\":\"Paris\"}", "" },
        { Call + "\n" + Call.Replace("Paris", "Oslo", StringComparison.Ordinal), "\n", "get_weather={\"city\":\"Paris\"} | get_weather={\"city\":\"Oslo\"}", "" },
        { "```tool_call\n[{\"name\": \"a\", \"arguments\": {}}, {\"name\": \"b\", \"parameters\": {\"x\": [1, 2]}}]\n```", "", "a={} | b={\"x\":[1,2]}", "" },
        { "```python\nprint(1)\n```", "```python\nprint(1)\n```", "", "" },
        { "Answer.<end_of_turn>\nignored", "Answer.", "", "" },
        // Repairs.
        { "```tool_call\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}", "", "get_weather={\"city\":\"Paris\"}", "repaired" },
        { "```tool_call\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"\n```", "", "get_weather={\"city\":\"Paris\"}", "repaired" },
        { "```tool_call\n{\"name\": \"f\", \"arguments\": \"{\\\"n\\\": 3}\"}\n```", "", "f={\"n\":3}", "repaired" },
        { "```tool_call\n{\"name\": \"f\", \"arguments\": {\"n\": 3,},}\n```", "", "f={\"n\":3}", "" },
        // Not repairable: left visible, reported.
        { "```tool_call\nget_weather(city='Paris')\n```", "```tool_call\nget_weather(city='Paris')\n```", "", "unrepaired" },
        { "```tool_call\n{\"arguments\": {}}\n```", "", "", "unrepaired" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Parses_one_shot_and_streaming_alike(string input, string content, string calls, string diagnostics)
    {
        var parser = new JsonFenceToolCallParser();
        var result = parser.Parse(input);

        Assert.Equal(content, result.Content);
        var expectedCalls = calls.Length == 0 ? [] : calls.Split(" | ");
        Assert.Equal(expectedCalls.Length, result.ToolCalls.Count);
        for (var i = 0; i < expectedCalls.Length; i++)
        {
            var eq = expectedCalls[i].IndexOf('=', StringComparison.Ordinal);
            Assert.Equal(expectedCalls[i][..eq], result.ToolCalls[i].Name);
            ToolCallAssert.SameArguments(expectedCalls[i][(eq + 1)..], result.ToolCalls[i].ArgumentsJson);
        }

        switch (diagnostics)
        {
            case "": Assert.Empty(result.Diagnostics); break;
            case "repaired": Assert.All(result.Diagnostics, d => Assert.True(d.Repaired, d.Message)); Assert.NotEmpty(result.Diagnostics); break;
            default: Assert.Contains(result.Diagnostics, d => !d.Repaired); break;
        }

        ToolCallAssert.StreamingMatchesOneShot(parser, input);
    }

    [Fact]
    public void Rewritten_history_renders_with_the_official_gemma3n_template_and_round_trips()
    {
        var tools = new[] { new ToolDefinition("get_weather", "Get current weather", "{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"}},\"required\":[\"city\"]}") };
        var call = new ToolCall("call_1", "get_weather", "{\"city\": \"Paris\"}");
        var messages = new List<ChatMessage>
        {
            ChatMessage.System("Be brief."),
            ChatMessage.User("Weather in Paris?"),
            ChatMessage.Assistant(null, call),
            ChatMessage.ToolResult("call_1", "{\"temperature\": 21}"),
            ChatMessage.Assistant("21 degrees."),
            ChatMessage.User("Thanks"),
        };

        var rewritten = Gemma3nToolPrompt.Rewrite(messages, tools);
        var template = new ChatTemplate(File.ReadAllText(SharedData.DataPath("templates/google-gemma-3n-it.jinja")));
        var prompt = template.Render(rewritten);

        Assert.StartsWith("<bos><start_of_turn>user\nBe brief.\n\nYou can call these tools.", prompt, StringComparison.Ordinal);
        Assert.Contains("{\"name\": \"get_weather\", \"description\": \"Get current weather\", \"parameters\": {\"type\":\"object\"", prompt, StringComparison.Ordinal);
        Assert.Contains("<start_of_turn>model\n```tool_call\n{\"name\": \"get_weather\", \"arguments\": {\"city\":\"Paris\"}}\n```<end_of_turn>\n", prompt, StringComparison.Ordinal);
        Assert.Contains("<start_of_turn>user\n```tool_result\n{\"name\":\"get_weather\",\"content\":{\"temperature\":21}}\n```<end_of_turn>\n<start_of_turn>model\n21 degrees.", prompt, StringComparison.Ordinal);
        Assert.EndsWith("<start_of_turn>user\nThanks<end_of_turn>\n<start_of_turn>model\n", prompt, StringComparison.Ordinal);

        // What the model is taught to write is what the parser reads.
        var parsed = new JsonFenceToolCallParser().Parse(Gemma3nToolPrompt.FenceCall(call));
        var roundTrip = Assert.Single(parsed.ToolCalls);
        Assert.Equal("get_weather", roundTrip.Name);
        ToolCallAssert.SameArguments(call.ArgumentsJson, roundTrip.ArgumentsJson);
    }

    [Theory]
    [InlineData("gemma4", "gemma4")]
    [InlineData("gemma3n", "json-fence")]
    [InlineData("gemma3", "json-fence")]
    public void Picks_the_dialect_by_architecture(string architecture, string dialect) =>
        Assert.Equal(dialect, ToolCallParsers.ForArchitecture(architecture).Dialect);

    [Theory]
    [InlineData("templates/google-gemma-4-E2B-it.jinja", "gemma4")]
    [InlineData("templates/llama.cpp-gemma4.jinja", "gemma4")]
    [InlineData("templates/google-gemma-3n-it.jinja", "json-fence")]
    public void Picks_the_dialect_by_template(string template, string dialect) =>
        Assert.Equal(dialect, ToolCallParsers.ForTemplate(File.ReadAllText(SharedData.DataPath(template))).Dialect);

    [Fact]
    public void Unknown_architecture_is_refused_by_name() =>
        Assert.Contains("llama", Assert.Throws<NotSupportedException>(() => ToolCallParsers.ForArchitecture("llama")).Message, StringComparison.Ordinal);
}

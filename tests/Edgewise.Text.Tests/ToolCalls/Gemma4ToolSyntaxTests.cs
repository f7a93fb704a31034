using System.Text.Json;
using Edgewise.Text.Chat;
using Edgewise.Text.Tests.Templates;
using Edgewise.Text.ToolCalls;
using Xunit;

namespace Edgewise.Text.Tests.ToolCalls;

public sealed class Gemma4ToolSyntaxTests
{
    [Fact]
    public void Declarations_match_what_the_official_template_renders()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(SharedData.TestDataPath("templates/conversations.json")));
        var tools = doc.RootElement.GetProperty("conversations").EnumerateArray()
            .Where(c => c.TryGetProperty("tools", out _))
            .SelectMany(c => c.GetProperty("tools").EnumerateArray())
            .Select(ToolDefinition.FromOpenAiJson)
            .DistinctBy(t => t.Name)
            .ToList();
        Assert.True(tools.Count >= 3);
        var template = new ChatTemplate(File.ReadAllText(SharedData.DataPath("templates/google-gemma-4-E2B-it.jinja")));

        foreach (var tool in tools)
        {
            var prompt = template.Render([ChatMessage.User("x")], [tool]);
            var start = prompt.IndexOf("<|tool>", StringComparison.Ordinal) + "<|tool>".Length;
            var end = prompt.IndexOf("<tool|>", start, StringComparison.Ordinal);
            Assert.Equal(prompt[start..end], Gemma4ToolSyntax.FormatDeclaration(tool));
        }
    }

    [Fact]
    public void Formatted_arguments_parse_back_to_the_same_json()
    {
        const string json = """{"route":{"to":"JFK","from":"CDG"},"n":2,"ok":true,"none":null,"tags":["a","b \"q\""],"price":12.5}""";
        var gemma = Gemma4ToolSyntax.FormatArguments(json);
        Assert.Equal("{n:2,none:null,ok:true,price:12.5,route:{from:<|\"|>CDG<|\"|>,to:<|\"|>JFK<|\"|>},tags:[<|\"|>a<|\"|>,<|\"|>b \"q\"<|\"|>]}", gemma);

        var parsed = new Gemma4ToolCallParser().Parse("<|tool_call>call:f" + gemma + "<tool_call|>");
        Assert.Empty(parsed.Diagnostics);
        ToolCallAssert.SameArguments(json, Assert.Single(parsed.ToolCalls).ArgumentsJson);
    }
}

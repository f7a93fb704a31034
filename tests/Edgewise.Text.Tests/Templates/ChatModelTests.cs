using System.Text.Json;
using System.Text.Json.Nodes;
using Edgewise.Text.Chat;
using Edgewise.Text.Templates;
using Xunit;

namespace Edgewise.Text.Tests.Templates;

public sealed class ChatModelTests
{
    private static readonly string E2B = File.ReadAllText(SharedData.DataPath("templates/google-gemma-4-E2B-it.jinja"));

    [Fact]
    public void Typed_messages_with_media_tools_and_thinking_render_the_gemma4_layout()
    {
        var template = new ChatTemplate(E2B);
        var weather = new ToolDefinition("get_weather", "Get weather", """{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}""");
        var prompt = template.Render(
            [
                ChatMessage.System("Be brief."),
                ChatMessage.User(ContentPart.Image(), ContentPart.FromText("Where is this?"), ContentPart.Audio()),
                ChatMessage.Assistant(null, new ToolCall("c1", "get_weather", """{"city":"Paris"}""")),
                ChatMessage.ToolResult("c1", "sunny"),
            ],
            [weather],
            addGenerationPrompt: true,
            enableThinking: true);

        Assert.Equal(
            "<bos><|turn>system\n<|think|>\nBe brief.<|tool>declaration:get_weather{description:<|\"|>Get weather<|\"|>,parameters:{properties:{city:{type:<|\"|>STRING<|\"|>}},required:[<|\"|>city<|\"|>],type:<|\"|>OBJECT<|\"|>}}<tool|><turn|>\n"
            + "<|turn>user\n<|image|>Where is this?<|audio|><turn|>\n"
            + "<|turn>model\n<|tool_call>call:get_weather{city:<|\"|>Paris<|\"|>}<tool_call|><|tool_response>response:get_weather{value:<|\"|>sunny<|\"|>}<tool_response|>"
            + "<|channel>thought\n",
            prompt);
    }

    [Fact]
    public void Json_nodes_and_elements_become_the_same_template_values()
    {
        var node = JsonNode.Parse("""{"b":[1,2.5,true,null,"x"],"a":{"n":-3}}""");
        var fromNode = JinjaValues.FromJson(node);
        var fromElement = JinjaValues.ParseJson(node!.ToJsonString());
        var fromPrimitives = JinjaValues.FromJson(new JsonObject { ["b"] = new JsonArray(1, 2.5, true, null, "x"), ["a"] = new JsonObject { ["n"] = -3 } });
        Assert.True(JinjaValues.PyEquals(fromNode, fromElement));
        Assert.True(JinjaValues.PyEquals(fromNode, fromPrimitives));
        var dict = Assert.IsType<JinjaDict>(fromNode);
        Assert.Equal(["b", "a"], dict.Keys);
        Assert.IsType<long>(((List<object?>)dict["b"]!)[0]);
        Assert.IsType<double>(((List<object?>)dict["b"]!)[1]);
    }

    [Fact]
    public void Malformed_openai_messages_are_reported_by_position()
    {
        using var badRole = JsonDocument.Parse("""[{"role":"user","content":"hi"},{"role":"robot","content":"x"}]""");
        Assert.Contains("messages[1].role", Assert.Throws<FormatException>(() => ChatJson.ParseMessages(badRole.RootElement)).Message, StringComparison.Ordinal);

        using var badCall = JsonDocument.Parse("""[{"role":"assistant","tool_calls":[{"id":"c","function":{}}]}]""");
        Assert.Contains("messages[0].tool_calls[0]", Assert.Throws<FormatException>(() => ChatJson.ParseMessages(badCall.RootElement)).Message, StringComparison.Ordinal);

        using var notArray = JsonDocument.Parse("""{"role":"user"}""");
        Assert.Throws<FormatException>(() => new ChatTemplate(E2B).RenderJson(notArray.RootElement));
    }
}

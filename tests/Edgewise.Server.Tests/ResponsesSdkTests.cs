using System.ClientModel;
using Edgewise.Server.Tests.Support;
using OpenAI;
using OpenAI.Responses;

namespace Edgewise.Server.Tests;

#pragma warning disable OPENAI001 // the SDK marks the Responses client experimental

/// <summary>The OpenAI SDK's Responses client parses our /v1/responses answers and events.</summary>
public sealed class ResponsesSdkTests
{
    private static ResponsesClient Client(TestServer server) =>
        new OpenAIClient(new ApiKeyCredential("sk-unused"), new OpenAIClientOptions { Endpoint = new Uri(server.BaseAddress, "/v1") })
            .GetResponsesClient();

    [Fact]
    public async Task TextAndStreaming()
    {
        await using var server = await TestServer.StartAsync();
        var client = Client(server);

        var response = (await client.CreateResponseAsync("gemma-test", "hello sdk")).Value;
        Assert.Equal("Echo: hello sdk", response.GetOutputText());

        var text = "";
        var completed = false;
        await foreach (var update in await client.CreateResponseStreamingAsync("gemma-test", "stream sdk"))
        {
            if (update is StreamingResponseOutputTextDeltaUpdate delta)
                text += delta.Delta;
            completed |= update is StreamingResponseCompletedUpdate;
        }

        Assert.Equal("Echo: stream sdk", text);
        Assert.True(completed);
    }

    [Fact]
    public async Task FunctionCallRoundTrip()
    {
        await using var server = await TestServer.StartAsync();
        var client = Client(server);
        var tool = ResponseTool.CreateFunctionTool("get_weather", BinaryData.FromString("""{"type":"object","properties":{"city":{"type":"string"}},"required":["city"],"additionalProperties":false}"""), strictModeEnabled: true);
        var options = new CreateResponseOptions("gemma-test", [ResponseItem.CreateUserMessageItem("weather?")]) { Tools = { tool }, ToolChoice = ResponseToolChoice.CreateRequiredChoice() };

        var first = (await client.CreateResponseAsync(options)).Value;

        var call = Assert.IsType<FunctionCallResponseItem>(Assert.Single(first.OutputItems));
        Assert.Equal("get_weather", call.FunctionName);
        Assert.Equal("""{"city":"Paris"}""", call.FunctionArguments.ToString());

        var follow = new CreateResponseOptions("gemma-test", [ResponseItem.CreateUserMessageItem("weather?"), call, ResponseItem.CreateFunctionCallOutputItem(call.CallId, "sunny")]) { Tools = { tool } };
        var second = (await client.CreateResponseAsync(follow)).Value;
        Assert.Equal("The tool get_weather said: sunny", second.GetOutputText());
    }
}

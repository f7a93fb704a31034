using System.ClientModel;
using System.Text.Json;
using Edgewise.Server.Backend;
using Edgewise.Server.Tests.Support;
using Json.Schema;
using Microsoft.Extensions.AI;
using OpenAI;

namespace Edgewise.Server.Tests;

/// <summary>Microsoft.Extensions.AI's OpenAI adapter (<c>IChatClient</c>) against the real server.</summary>
public sealed class ExtensionsAiTests
{
    private static IChatClient Client(TestServer server) =>
        new OpenAIClient(new ApiKeyCredential("sk-unused"), new OpenAIClientOptions { Endpoint = new Uri(server.BaseAddress, "/v1") })
            .GetChatClient("gemma-test")
            .AsIChatClient();

    [Fact]
    public async Task PlainChat()
    {
        await using var server = await TestServer.StartAsync();
        using var client = Client(server);

        var response = await client.GetResponseAsync("How are you");

        Assert.Equal("Echo: How are you", response.Text);
        Assert.Equal(ChatFinishReason.Stop, response.FinishReason);
        Assert.Equal(4, response.Usage?.OutputTokenCount);
    }

    [Fact]
    public async Task Streaming_WithUsageLast()
    {
        await using var server = await TestServer.StartAsync();
        using var client = Client(server);

        var updates = new List<ChatResponseUpdate>();
        await foreach (var update in client.GetStreamingResponseAsync("count the words here"))
            updates.Add(update);

        Assert.Equal("Echo: count the words here", string.Concat(updates.Select(u => u.Text)));
        var usage = updates[^1].Contents.OfType<UsageContent>().Single();
        Assert.Equal(5, usage.Details.OutputTokenCount);
        Assert.DoesNotContain(updates.Take(updates.Count - 1), u => u.Contents.OfType<UsageContent>().Any());
    }

    [Fact]
    public async Task ToolCallRoundTrip_RequireSpecific()
    {
        await using var server = await TestServer.StartAsync();
        using var client = Client(server);
        var weather = AIFunctionFactory.Create((string city, int days) => $"sunny in {city} for {days} days", "get_weather", "Forecast for a city");
        var other = AIFunctionFactory.Create((string city) => "12:00", "get_time", "Local time");
        List<ChatMessage> history = [new(ChatRole.User, "Plan my trip")];

        var first = await client.GetResponseAsync(history, new ChatOptions { Tools = [other, weather], ToolMode = ChatToolMode.RequireSpecific("get_weather") });

        var call = first.Messages.SelectMany(m => m.Contents).OfType<FunctionCallContent>().Single();
        Assert.Equal("get_weather", call.Name);
        Assert.Equal("Paris", call.Arguments!["city"]!.ToString());
        Assert.Equal(ChatFinishReason.ToolCalls, first.FinishReason);
        Assert.Equal(ToolChoiceMode.Function, server.Backend.Requests.Last().ToolChoice.Mode);

        history.AddRange(first.Messages);
        history.Add(new ChatMessage(ChatRole.Tool, [new FunctionResultContent(call.CallId, "sunny")]));
        var second = await client.GetResponseAsync(history, new ChatOptions { Tools = [other, weather] });

        Assert.Equal("The tool get_weather said: sunny", second.Text);
        var replay = server.Backend.Requests.Last();
        Assert.Equal(call.CallId, replay.Messages[^1].ToolCallId);
    }

    [Fact]
    public async Task ToolCall_RequireAny_Streaming()
    {
        await using var server = await TestServer.StartAsync();
        using var client = Client(server);
        var weather = AIFunctionFactory.Create((string city) => "sunny", "get_weather", "Weather");

        var calls = new List<FunctionCallContent>();
        await foreach (var update in client.GetStreamingResponseAsync("hello", new ChatOptions { Tools = [weather], ToolMode = ChatToolMode.RequireAny }))
            calls.AddRange(update.Contents.OfType<FunctionCallContent>());

        var call = Assert.Single(calls);
        Assert.Equal("get_weather", call.Name);
        Assert.Equal("Paris", call.Arguments!["city"]!.ToString());
        Assert.Equal(ToolChoiceMode.Required, server.Backend.Requests.Last().ToolChoice.Mode);
    }

    [Fact]
    public async Task JsonSchemaResponse_Validates()
    {
        await using var server = await TestServer.StartAsync();
        using var client = Client(server);
        using var schema = JsonDocument.Parse("""
            {"type":"object","properties":{"title":{"type":"string"},"rating":{"type":"integer","minimum":1},"genres":{"type":"array","items":{"type":"string","enum":["drama","comedy"]}}},"required":["title","rating","genres"],"additionalProperties":false}
            """);

        var response = await client.GetResponseAsync("Review a film", new ChatOptions { ResponseFormat = ChatResponseFormat.ForJsonSchema(schema.RootElement, "review") });

        using var output = JsonDocument.Parse(response.Text);
        Assert.True(JsonSchema.FromText(schema.RootElement.GetRawText()).Evaluate(output.RootElement).IsValid, response.Text);
        Assert.Equal("review", server.Backend.Requests.Last().ResponseFormat.Name);
    }
}

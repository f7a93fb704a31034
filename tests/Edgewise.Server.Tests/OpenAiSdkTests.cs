using System.ClientModel;
using System.Text.Json;
using Edgewise.Server.Backend;
using Edgewise.Server.Tests.Support;
using Json.Schema;
using OpenAI;
using OpenAI.Chat;

namespace Edgewise.Server.Tests;

/// <summary>The official OpenAI .NET SDK against the real server, unchanged.</summary>
public sealed class OpenAiSdkTests
{
    private const string WeatherSchema = """
        {"type":"object","properties":{"city":{"type":"string"},"unit":{"type":"string","enum":["c","f"]}},"required":["city","unit"],"additionalProperties":false}
        """;

    private static ChatClient Client(TestServer server) =>
        new("gemma-test", new ApiKeyCredential("sk-unused"), new OpenAIClientOptions { Endpoint = new Uri(server.BaseAddress, "/v1") });

    [Fact]
    public async Task PlainChat_ReturnsAssistantTextAndUsage()
    {
        await using var server = await TestServer.StartAsync();
        ChatCompletion completion = await Client(server).CompleteChatAsync(
            [new SystemChatMessage("Be brief."), new UserChatMessage("Hello there")]);

        Assert.Equal("Echo: Hello there", completion.Content[0].Text);
        Assert.Equal(ChatFinishReason.Stop, completion.FinishReason);
        Assert.Equal(ChatMessageRole.Assistant, completion.Role);
        Assert.StartsWith("chatcmpl-", completion.Id, StringComparison.Ordinal);
        Assert.Equal(3, completion.Usage.OutputTokenCount);
        Assert.True(completion.Usage.InputTokenCount > 0);
        Assert.Equal(completion.Usage.InputTokenCount + completion.Usage.OutputTokenCount, completion.Usage.TotalTokenCount);

        var request = Assert.Single(server.Backend.Requests);
        Assert.Equal([MessageRole.System, MessageRole.User], request.Messages.Select(m => m.Role));
    }

    [Fact]
    public async Task Streaming_ConcatenatesToTheAnswer_AndUsageArrivesInTheLastChunk()
    {
        await using var server = await TestServer.StartAsync();
#pragma warning disable OPENAI001 // Seed is marked experimental in the SDK
        var options = new ChatCompletionOptions { MaxOutputTokenCount = 100, Temperature = 0.5f, Seed = 42 };
        var updates = new List<StreamingChatCompletionUpdate>();
        await foreach (var update in Client(server).CompleteChatStreamingAsync([new UserChatMessage("stream me please")], options))
            updates.Add(update);
#pragma warning restore OPENAI001

        var text = string.Concat(updates.SelectMany(u => u.ContentUpdate).Select(p => p.Text));
        Assert.Equal("Echo: stream me please", text);
        Assert.True(updates.Count >= 5, $"expected one chunk per token, got {updates.Count}");
        Assert.Equal(ChatFinishReason.Stop, updates.Last(u => u.FinishReason is not null).FinishReason);
        var usage = updates[^1].Usage;
        Assert.NotNull(usage);
        Assert.Equal(4, usage.OutputTokenCount);
        Assert.All(updates.Take(updates.Count - 1), u => Assert.Null(u.Usage));

        var request = Assert.Single(server.Backend.Requests);
        Assert.Equal(0.5f, request.Sampling.Temperature);
        Assert.Equal(42, request.Sampling.Seed);
        Assert.Equal(100, request.MaxTokens);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task ToolCallRoundTrip_RequiredAndNamedChoice(bool named)
    {
        await using var server = await TestServer.StartAsync();
        var client = Client(server);
        var weather = ChatTool.CreateFunctionTool("get_weather", "Current weather for a city", BinaryData.FromString(WeatherSchema), functionSchemaIsStrict: true);
        var time = ChatTool.CreateFunctionTool("get_time", "Local time in a city", BinaryData.FromString("""{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}"""));
        var options = new ChatCompletionOptions
        {
            Tools = { time, weather },
            ToolChoice = named ? ChatToolChoice.CreateFunctionChoice("get_weather") : ChatToolChoice.CreateRequiredChoice(),
        };
        List<ChatMessage> messages = [new UserChatMessage("What should I wear in Paris?")];

        ChatCompletion first = await client.CompleteChatAsync(messages, options);

        Assert.Equal(ChatFinishReason.ToolCalls, first.FinishReason);
        var call = Assert.Single(first.ToolCalls);
        Assert.Equal(named ? "get_weather" : "get_time", call.FunctionName);
        Assert.False(string.IsNullOrEmpty(call.Id));
        var schema = JsonSchema.FromText(named ? WeatherSchema : """{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}""");
        Assert.True(schema.Evaluate(JsonDocument.Parse(call.FunctionArguments.ToString()).RootElement).IsValid, call.FunctionArguments.ToString());
        var sent = server.Backend.Requests.Last();
        Assert.Equal(named ? ToolChoiceMode.Function : ToolChoiceMode.Required, sent.ToolChoice.Mode);
        Assert.Equal(named ? "get_weather" : null, sent.ToolChoice.FunctionName);
        Assert.True(sent.Tools.Single(t => t.Name == "get_weather").Strict);

        messages.Add(new AssistantChatMessage(first));
        messages.Add(new ToolChatMessage(call.Id, "{\"temp_c\":18}"));
        ChatCompletion second = await client.CompleteChatAsync(messages, new ChatCompletionOptions { Tools = { time, weather } });

        Assert.Equal(ChatFinishReason.Stop, second.FinishReason);
        Assert.Equal($"The tool {call.FunctionName} said: {{\"temp_c\":18}}", second.Content[0].Text);
        var replay = server.Backend.Requests.Last();
        var assistant = replay.Messages[1];
        Assert.Equal(MessageRole.Assistant, assistant.Role);
        Assert.Equal(call.Id, Assert.Single(assistant.ToolCalls).Id);
        Assert.Equal(call.FunctionArguments.ToString(), assistant.ToolCalls[0].ArgumentsJson);
        Assert.Equal(call.Id, replay.Messages[2].ToolCallId);
        Assert.Equal(call.FunctionName, replay.Messages[2].ToolName);
    }

    [Fact]
    public async Task StreamedToolCalls_AssembleByIndex()
    {
        await using var server = await TestServer.StartAsync();
        var options = new ChatCompletionOptions
        {
            Tools =
            {
                ChatTool.CreateFunctionTool("get_weather", "Weather", BinaryData.FromString(WeatherSchema)),
                ChatTool.CreateFunctionTool("get_time", "Time", BinaryData.FromString("""{"type":"object","properties":{"city":{"type":"string"}}}""")),
            },
        };
        var ids = new Dictionary<int, string>();
        var names = new Dictionary<int, string>();
        var args = new Dictionary<int, string>();
        ChatFinishReason? finish = null;
        await foreach (var update in Client(server).CompleteChatStreamingAsync([new UserChatMessage("weather and time in Paris")], options))
        {
            foreach (var part in update.ToolCallUpdates)
            {
                if (part.ToolCallId is not null)
                    ids[part.Index] = part.ToolCallId;
                if (part.FunctionName is not null)
                    names[part.Index] = part.FunctionName;
                args[part.Index] = args.GetValueOrDefault(part.Index, "") + part.FunctionArgumentsUpdate?.ToString();
            }

            finish ??= update.FinishReason;
        }

        Assert.Equal(ChatFinishReason.ToolCalls, finish);
        Assert.Equal(["get_weather", "get_time"], names.OrderBy(kv => kv.Key).Select(kv => kv.Value));
        Assert.Equal(2, ids.Values.Distinct().Count());
        Assert.Equal("""{"city":"Paris","unit":"c"}""", args[0]);
        Assert.Equal("""{"city":"Paris"}""", args[1]);
    }

    [Fact]
    public async Task JsonSchemaOutput_Validates()
    {
        const string schemaText = """
            {"type":"object","properties":{"name":{"type":"string"},"age":{"type":"integer","minimum":0},"tags":{"type":"array","items":{"type":"string"}},"address":{"$ref":"#/$defs/address"}},
             "required":["name","age","tags","address"],"additionalProperties":false,
             "$defs":{"address":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"],"additionalProperties":false}}}
            """;
        await using var server = await TestServer.StartAsync();
        var options = new ChatCompletionOptions
        {
            ResponseFormat = ChatResponseFormat.CreateJsonSchemaFormat("person", BinaryData.FromString(schemaText), jsonSchemaIsStrict: true),
        };

        ChatCompletion completion = await Client(server).CompleteChatAsync([new UserChatMessage("Describe a person")], options);

        var json = completion.Content[0].Text;
        var result = JsonSchema.FromText(schemaText).Evaluate(JsonDocument.Parse(json).RootElement, new EvaluationOptions { OutputFormat = OutputFormat.List });
        Assert.True(result.IsValid, json);
        var format = Assert.Single(server.Backend.Requests).ResponseFormat;
        Assert.Equal(ResponseFormatKind.JsonSchema, format.Kind);
        Assert.Equal("person", format.Name);
        Assert.True(format.Strict);
        Assert.Equal(JsonValueKind.Object, format.Schema!.Value.GetProperty("$defs").ValueKind);
    }

    [Fact]
    public async Task Logprobs_AndMultipleChoices()
    {
        await using var server = await TestServer.StartAsync();
        var options = new ChatCompletionOptions { IncludeLogProbabilities = true, TopLogProbabilityCount = 2 };

        ChatCompletion completion = await Client(server).CompleteChatAsync([new UserChatMessage("hi")], options);

        Assert.Equal(2, completion.ContentTokenLogProbabilities.Count);
        var first = completion.ContentTokenLogProbabilities[0];
        Assert.Equal("Echo:", first.Token);
        Assert.Equal(-0.25f, first.LogProbability);
        Assert.Equal("Echo:"u8.ToArray(), first.Utf8Bytes!.Value.ToArray());
        Assert.Equal(2, first.TopLogProbabilities.Count);
    }

    [Fact]
    public async Task UnknownModel_IsA404TheSdkSurfaces()
    {
        await using var server = await TestServer.StartAsync();
        var client = new ChatClient("gpt-9", new ApiKeyCredential("k"), new OpenAIClientOptions { Endpoint = new Uri(server.BaseAddress, "/v1") });

        var ex = await Assert.ThrowsAsync<ClientResultException>(() => client.CompleteChatAsync([new UserChatMessage("hi")]));

        Assert.Equal(404, ex.Status);
        Assert.Contains("gpt-9", ex.Message, StringComparison.Ordinal);
    }
}

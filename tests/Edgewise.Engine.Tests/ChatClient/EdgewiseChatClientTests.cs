using System.Text.Json;
using Edgewise.Engine.ChatClient;
using Edgewise.Engine.Sessions;
using Edgewise.Engine.Tests.Constraints;
using Edgewise.Engine.Tests.Sessions;
using Microsoft.Extensions.AI;
using Xunit;

namespace Edgewise.Engine.Tests.ChatClient;

/// <summary>The engine used exactly as a .NET app uses any IChatClient: through a ChatClientBuilder pipeline.</summary>
public sealed class EdgewiseChatClientTests : IClassFixture<SyntheticModel>
{
    private readonly EdgewiseModel _model;

    public EdgewiseChatClientTests(SyntheticModel synthetic) => _model = synthetic.Model;

    [Fact]
    public async Task FunctionInvocation_RoundTrip_CallsTheToolAndFeedsTheResultBack()
    {
        // Boolean arguments keep the forced call short whatever a random model prefers.
        var invocations = new List<(bool Weekend, bool Metric)>();
        AIFunction forecast = AIFunctionFactory.Create((bool weekend, bool metric) =>
        {
            invocations.Add((weekend, metric));
            return $"sunny, weekend={weekend}";
        }, "get_forecast", "Weather forecast for the next days");

        using IChatClient client = new ChatClientBuilder(new EdgewiseChatClient(_model, contextLength: 512))
            .UseFunctionInvocation(configure: f => f.MaximumIterationsPerRequest = 3)
            .Build();
        var options = new ChatOptions
        {
            Tools = [forecast],
            // Forces the first turn to call the tool; the invoking client lifts this for the turn after the result.
            ToolMode = ChatToolMode.RequireSpecific("get_forecast"),
            MaxOutputTokens = 80,
            Temperature = 1f,
            Seed = 4,
        };
        ChatResponse response = await client.GetResponseAsync("Will it rain this week?", options);

        var (weekend, metric) = Assert.Single(invocations);
        FunctionCallContent call = response.Messages.SelectMany(m => m.Contents).OfType<FunctionCallContent>().Single();
        Assert.Equal("get_forecast", call.Name);
        Assert.Equal(weekend, ((JsonElement)call.Arguments!["weekend"]!).GetBoolean());
        Assert.Equal(metric, ((JsonElement)call.Arguments!["metric"]!).GetBoolean());
        FunctionResultContent result = response.Messages.SelectMany(m => m.Contents).OfType<FunctionResultContent>().Single();
        Assert.Equal(call.CallId, result.CallId);
        Assert.Equal(ChatRole.Assistant, response.Messages[^1].Role);

        // The result went back through the template as a Gemma 4 tool response, after the reused prefix.
        ChatSession session = client.GetService<ChatSession>()!;
        string context = _model.Tokenizer.Decode(session.CachedTokens);
        Assert.Contains("<|tool_response>", context, StringComparison.Ordinal);
        Assert.Contains($"sunny, weekend={weekend}", context, StringComparison.Ordinal);
        Assert.NotNull(response.Usage);
        Assert.True(response.Usage!.CachedInputTokenCount > 0, "the second request should reuse the first one's prompt");
        Assert.True(response.Usage.OutputTokenCount > 0);
    }

    [Fact]
    public async Task StreamingWithJsonSchema_ValidatesAndReportsUsage()
    {
        // Bounded: keys, a boolean, an enum and at most eight whitespace characters in each of 12 slots: 120 tokens always suffice.
        const string Schema = """{"type":"object","properties":{"ok":{"type":"boolean"},"kind":{"enum":["a","b"]}},"required":["ok","kind"],"additionalProperties":false}""";
        using var client = new EdgewiseChatClient(_model, contextLength: 512);
        var options = new ChatOptions
        {
            ResponseFormat = ChatResponseFormat.ForJsonSchema(JsonDocument.Parse(Schema).RootElement, "answer"),
            MaxOutputTokens = 120,
            Seed = 9,
            Temperature = 1f,
            StopSequences = ["never-produced"],
        };
        var text = new System.Text.StringBuilder();
        UsageDetails? usage = null;
        ChatFinishReason? finish = null;
        int updates = 0;
        await foreach (ChatResponseUpdate update in client.GetStreamingResponseAsync([new ChatMessage(ChatRole.User, "json")], options))
        {
            updates++;
            text.Append(update.Text);
            usage ??= update.Contents.OfType<UsageContent>().FirstOrDefault()?.Details;
            finish ??= update.FinishReason;
        }
        Assert.True(updates > 2, "the answer should stream in pieces");
        Assert.Equal(ChatFinishReason.Stop, finish);
        Assert.True(ConstrainedRun.Validates(ConstrainedRun.Schema(Schema), text.ToString(), out string detail), text + "\n" + detail);
        Assert.True(usage!.InputTokenCount > 0);

        var metadata = client.GetService<ChatClientMetadata>()!;
        Assert.Equal("edgewise", metadata.ProviderName);
        Assert.Equal(_model.Info.Name, metadata.DefaultModelId);
    }
}

using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Edgewise.Server.Backend;
using Edgewise.Server.Hosting;
using Xunit;

namespace Edgewise.Cli.Tests;

/// <summary>
/// The server's backend port on the real engine (<see cref="EngineChatBackend"/> in Edgewise.Server): events, prefix
/// reuse across requests, typed errors, HTTP end to end.
/// </summary>
public sealed class EngineChatBackendTests(SyntheticModelFile model) : IClassFixture<SyntheticModelFile>
{
    private EngineChatBackend NewBackend(int context = 512)
    {
        var backend = new EngineChatBackend(model.Path, new BackendOptions(context, Threads: 1, Parallel: 2));
        Assert.True(backend.Loaded.Wait(TimeSpan.FromSeconds(60)) && backend.Status.State == BackendState.Ready, backend.Status.Message);
        return backend;
    }

    private static GenerationRequest Chat(string text, int maxTokens = 8) => new()
    {
        Model = "any",
        Messages = [ConversationMessage.FromText(MessageRole.System, "Be brief. " + string.Concat(Enumerable.Repeat("Stay on topic. ", 10))), ConversationMessage.FromText(MessageRole.User, text)],
        Sampling = new SamplingParameters { Temperature = 0 },
        MaxTokens = maxTokens,
    };

    private static async Task<List<GenerationEvent>> Collect(IChatBackend backend, GenerationRequest request)
    {
        var events = new List<GenerationEvent>();
        await foreach (GenerationEvent e in backend.GenerateAsync(request, CancellationToken.None)) events.Add(e);
        return events;
    }

    [Fact]
    public async Task Events_EndWithFinishAndUsage_AndTheNextTurnReusesTheSessionThatHoldsItsPrefix()
    {
        using EngineChatBackend backend = NewBackend();
        List<GenerationEvent> first = await Collect(backend, Chat("hello"));
        Assert.IsType<FinishedEvent>(first[^2]);
        GenerationUsage usage = Assert.IsType<UsageEvent>(first[^1]).Usage;
        Assert.Equal(0, usage.CachedPromptTokens);
        Assert.InRange(usage.CompletionTokens, 1, 8);

        // Another conversation (another system prompt) goes to the empty session, keeping the first one's cache.
        await Collect(backend, Chat("a different question entirely") with { Messages = [ConversationMessage.FromText(MessageRole.User, "a different question entirely")] });
        string answer = string.Concat(first.OfType<TextDeltaEvent>().Select(t => t.Text));
        GenerationRequest followUp = Chat("hello") with
        {
            Messages = [.. Chat("hello").Messages, ConversationMessage.FromText(MessageRole.Assistant, answer), ConversationMessage.FromText(MessageRole.User, "more")],
        };
        GenerationUsage second = ((UsageEvent)(await Collect(backend, followUp))[^1]).Usage;
        Assert.True(second.CachedPromptTokens >= usage.PromptTokens - 1, $"cached {second.CachedPromptTokens} of {second.PromptTokens}; the first prompt had {usage.PromptTokens}");

        GenerationUsage two = ((UsageEvent)(await Collect(backend, Chat("pick", 4) with { ChoiceCount = 2, Sampling = new SamplingParameters { Seed = 3 } }))[^1]).Usage;
        Assert.InRange(two.CompletionTokens, 2, 8);
    }

    [Fact]
    public async Task Placement_ReachesTheModel_ResidentPleShowsInTheGauges()
    {
        using EngineChatBackend mapped = NewBackend();
        Assert.Equal(0, mapped.GetStats().PleResidentBytes);
        using var resident = new EngineChatBackend(model.Path, new BackendOptions(256, Threads: 1),
            new EngineBackendOptions(Placement: new Edgewise.Models.Common.ModelLoadOptions { PerLayerEmbeddings = Edgewise.Models.Common.PerLayerEmbeddingMode.Resident }));
        await resident.Loaded.WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Equal(BackendState.Ready, resident.Status.State);
        Assert.True(resident.GetStats().PleResidentBytes > 0, resident.GetStats().ToString());
        Assert.IsType<UsageEvent>((await Collect(resident, Chat("hi", 2)))[^1]);
    }

    [Fact]
    public async Task Errors_AreTheServersTypedExceptions_BeforeAnyEvent()
    {
        using EngineChatBackend backend = NewBackend(context: 48);
        var overflow = await Assert.ThrowsAsync<Server.Backend.ContextOverflowException>(() => Collect(backend, Chat(string.Concat(Enumerable.Repeat("words ", 60)))));
        Assert.Equal(48, overflow.ContextLength);

        using JsonDocument schema = JsonDocument.Parse("""{"type":"object","properties":{"a":{"type":"string","pattern":"^x+$"}}}""");
        var bad = Chat("x") with { Messages = [ConversationMessage.FromText(MessageRole.User, "x")], ResponseFormat = new ResponseFormat(ResponseFormatKind.JsonSchema, "s", schema.RootElement.Clone()) };
        var invalid = await Assert.ThrowsAsync<InvalidSchemaException>(() => Collect(backend, bad));
        Assert.Contains("pattern", invalid.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ChatCompletionsOverHttp_RunTheEngine()
    {
        using EngineChatBackend backend = NewBackend();
        await using var app = EdgewiseServer.Build(new ServerOptions { Host = "127.0.0.1", Port = 0 }, backend);
        await app.StartAsync();
        using var http = new HttpClient { BaseAddress = EdgewiseServer.BaseAddress(app) };
        string body = """{"model":"tiny","messages":[{"role":"user","content":"hello"}],"temperature":0,"max_tokens":6}""";
        using HttpResponseMessage response = await http.PostAsync("/v1/chat/completions", new StringContent(body, Encoding.UTF8, "application/json"));
        string text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, text);
        using JsonDocument doc = JsonDocument.Parse(text);
        JsonElement usage = doc.RootElement.GetProperty("usage");
        Assert.InRange(usage.GetProperty("completion_tokens").GetInt32(), 1, 6);
        Assert.True(usage.GetProperty("prompt_tokens").GetInt32() > 3);
        Assert.Equal("assistant", doc.RootElement.GetProperty("choices")[0].GetProperty("message").GetProperty("role").GetString());
        await app.StopAsync();
    }
}

using System.ClientModel;
using System.Text.Json;
using Edgewise.Server.Backend;
using Edgewise.Server.Tests.Support;
using Json.Schema;
using Microsoft.Extensions.AI;
using ChatFinishReason = OpenAI.Chat.ChatFinishReason;
using OpenAI;
using OpenAI.Chat;
using OpenAiChatMessage = OpenAI.Chat.ChatMessage;

namespace Edgewise.Server.Tests.RealModel;

/// <summary>
/// The real engine behind the real server, driven by the official OpenAI SDK and Microsoft.Extensions.AI. The model
/// has random weights, so the assertions are about what must hold whatever it says: determinism under a seed,
/// grammar-valid tool calls and JSON, usage arithmetic, prefix reuse, and a clean pool afterwards.
/// </summary>
public sealed class EngineServerTests : IClassFixture<SyntheticGemma4File>
{
    private const string WeatherSchema = """
        {"type":"object","properties":{"city":{"type":"string","maxLength":8},"unit":{"type":"string","enum":["c","f"]},"days":{"type":"integer"}},"required":["city","unit"],"additionalProperties":false}
        """;

    private const string PersonSchema = """
        {"type":"object","properties":{"name":{"type":"string","maxLength":6},"age":{"type":"integer"},"ok":{"type":"boolean"}},"required":["name","age","ok"],"additionalProperties":false}
        """;

    private readonly SyntheticGemma4File _file;

    public EngineServerTests(SyntheticGemma4File file) => _file = file;

    private static ChatClient Client(TestServer server) =>
        new("tiny-gemma4", new ApiKeyCredential("sk-unused"), new OpenAIClientOptions { Endpoint = new Uri(server.BaseAddress, "/v1") });

#pragma warning disable OPENAI001 // Seed is experimental in the SDK
    private static ChatCompletionOptions Seeded(int seed, int maxTokens) => new() { Seed = seed, MaxOutputTokenCount = maxTokens, Temperature = 1f };
#pragma warning restore OPENAI001

    [Fact]
    public async Task PlainAndStreamingChat_AgreeUnderOneSeed_WithUsageInTheLastChunk()
    {
        var (server, backend) = await _file.StartServerAsync();
        await using (server)
        using (backend)
        {
            ChatClient client = Client(server);
            List<OpenAiChatMessage> messages = [new SystemChatMessage("Be brief."), new UserChatMessage("Hello there")];

            ChatCompletion first = await client.CompleteChatAsync(messages, Seeded(5, 12));
            ChatCompletion again = await client.CompleteChatAsync(messages, Seeded(5, 12));
            Assert.Equal(first.Content.Count == 0 ? "" : first.Content[0].Text, again.Content.Count == 0 ? "" : again.Content[0].Text);
            Assert.Contains(first.FinishReason, new[] { ChatFinishReason.Stop, ChatFinishReason.Length });
            Assert.InRange(first.Usage.OutputTokenCount, 1, 12);
            if (first.FinishReason == ChatFinishReason.Length) Assert.Equal(12, first.Usage.OutputTokenCount);
            Assert.True(first.Usage.InputTokenCount > 5);
            // The second request found the whole prompt but its last token in the pooled session.
            Assert.Equal(first.Usage.InputTokenCount - 1, again.Usage.InputTokenDetails.CachedTokenCount);

            var updates = new List<StreamingChatCompletionUpdate>();
            await foreach (StreamingChatCompletionUpdate u in client.CompleteChatStreamingAsync(messages, Seeded(5, 12))) updates.Add(u);
            string streamed = string.Concat(updates.SelectMany(u => u.ContentUpdate).Select(p => p.Text));
            Assert.Equal(first.Content.Count == 0 ? "" : first.Content[0].Text, streamed);
            Assert.Equal(first.FinishReason, updates.Last(u => u.FinishReason is not null).FinishReason);
            ChatTokenUsage? usage = updates[^1].Usage;
            Assert.NotNull(usage);
            Assert.Equal(first.Usage.OutputTokenCount, usage.OutputTokenCount);
            Assert.Equal(first.Usage.InputTokenCount, usage.InputTokenCount);
            Assert.All(updates.Take(updates.Count - 1), u => Assert.Null(u.Usage));

            Assert.True(await TestServer.EventuallyAsync(() => backend.GetStats().ActiveSessions == 0));
            BackendStats stats = backend.GetStats();
            Assert.True(stats.PrefixCacheEntries >= 1 && stats.KvCacheBytes > 0 && stats.PrefixCacheBytes > 0, stats.ToString());
        }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task ToolCallRoundTrip_RequiredAndNamed_ArgumentsValidateAgainstTheSchema(bool named)
    {
        var (server, backend) = await _file.StartServerAsync();
        await using (server)
        using (backend)
        {
            ChatClient client = Client(server);
            var weather = ChatTool.CreateFunctionTool("get_weather", "Current weather for a city", BinaryData.FromString(WeatherSchema), functionSchemaIsStrict: true);
            var time = ChatTool.CreateFunctionTool("get_time", "Local time in a city", BinaryData.FromString("""{"type":"object","properties":{"city":{"type":"string","maxLength":8}},"required":["city"]}"""));
            var schemas = new Dictionary<string, JsonSchema>
            {
                ["get_weather"] = JsonSchema.FromText(WeatherSchema),
                ["get_time"] = JsonSchema.FromText("""{"type":"object","properties":{"city":{"type":"string","maxLength":8}},"required":["city"]}"""),
            };
            int completed = 0;
            for (int seed = 0; seed < 6 && completed < 2; seed++)
            {
                ChatCompletionOptions options = Seeded(seed, 60);
                options.Tools.Add(time);
                options.Tools.Add(weather);
                options.ToolChoice = named ? ChatToolChoice.CreateFunctionChoice("get_weather") : ChatToolChoice.CreateRequiredChoice();
                List<OpenAiChatMessage> messages = [new UserChatMessage("What should I wear in Paris?")];
                ChatCompletion call = await client.CompleteChatAsync(messages, options);
                if (call.FinishReason == ChatFinishReason.Length) continue;   // a long random string ran out of tokens
                completed++;

                Assert.Equal(ChatFinishReason.ToolCalls, call.FinishReason);
                Assert.NotEmpty(call.ToolCalls);
                foreach (ChatToolCall tc in call.ToolCalls)
                {
                    if (named) Assert.Equal("get_weather", tc.FunctionName);
                    Assert.StartsWith("call_", tc.Id, StringComparison.Ordinal);
                    using JsonDocument args = JsonDocument.Parse(tc.FunctionArguments.ToString());
                    EvaluationResults result = schemas[tc.FunctionName].Evaluate(args.RootElement, new EvaluationOptions { OutputFormat = OutputFormat.List });
                    Assert.True(result.IsValid, $"seed {seed}: {tc.FunctionName}({tc.FunctionArguments})");
                }

                // The result goes back; with tool_choice none the model must answer in text.
                messages.Add(new AssistantChatMessage(call.ToolCalls));
                foreach (ChatToolCall tc in call.ToolCalls) messages.Add(new ToolChatMessage(tc.Id, """{"temperature":21,"sky":"clear"}"""));
                ChatCompletionOptions answer = Seeded(seed, 8);
                answer.Tools.Add(time);
                answer.Tools.Add(weather);
                answer.ToolChoice = ChatToolChoice.CreateNoneChoice();
                ChatCompletion reply = await client.CompleteChatAsync(messages, answer);
                Assert.Empty(reply.ToolCalls);
                Assert.Contains(reply.FinishReason, new[] { ChatFinishReason.Stop, ChatFinishReason.Length });
                Assert.True(reply.Usage.InputTokenCount > call.Usage.InputTokenCount);
            }
            Assert.True(completed >= 1, "no tool call finished within 60 tokens over 6 seeds");
        }
    }

    [Fact]
    public async Task JsonSchemaOutput_Validates_ThroughTheOpenAiSdk()
    {
        var (server, backend) = await _file.StartServerAsync();
        await using (server)
        using (backend)
        {
            ChatClient client = Client(server);
            JsonSchema schema = JsonSchema.FromText(PersonSchema);
            int valid = 0;
            for (int seed = 0; seed < 8 && valid < 3; seed++)
            {
                ChatCompletionOptions options = Seeded(seed, 128);
                options.TopP = 1f;
                options.ResponseFormat = OpenAI.Chat.ChatResponseFormat.CreateJsonSchemaFormat("person", BinaryData.FromString(PersonSchema), jsonSchemaIsStrict: true);
                ChatCompletion completion = await client.CompleteChatAsync([new UserChatMessage("Describe a person as JSON.")], options);
                if (completion.FinishReason == ChatFinishReason.Length) continue;
                Assert.Equal(ChatFinishReason.Stop, completion.FinishReason);
                using JsonDocument doc = JsonDocument.Parse(completion.Content[0].Text);
                Assert.True(schema.Evaluate(doc.RootElement).IsValid, $"seed {seed}: {completion.Content[0].Text}");
                valid++;
            }
            Assert.True(valid >= 1, "no JSON answer finished within 128 tokens over 8 seeds");
        }
    }

    /// <summary>M.E.AI rewrites schemas for OpenAI's strict mode (it drops <c>maxLength</c>), so this one bounds strings by enums.</summary>
    [Fact]
    public async Task JsonSchemaOutput_Validates_ThroughMicrosoftExtensionsAi()
    {
        var (server, backend) = await _file.StartServerAsync();
        await using (server)
        using (backend)
        {
            using IChatClient client = new OpenAIClient(new ApiKeyCredential("sk-unused"), new OpenAIClientOptions { Endpoint = new Uri(server.BaseAddress, "/v1") })
                .GetChatClient("tiny-gemma4").AsIChatClient();
            const string EnumPerson = """{"type":"object","properties":{"name":{"type":"string","enum":["Ada","Bob","Cy"]},"age":{"type":"integer"},"ok":{"type":"boolean"}},"required":["name","age","ok"],"additionalProperties":false}""";
            JsonSchema schema = JsonSchema.FromText(EnumPerson);
            using JsonDocument schemaDoc = JsonDocument.Parse(EnumPerson);
            int valid = 0;
            var unfinished = new List<string>();
            for (int seed = 0; seed < 8 && valid < 3; seed++)
            {
                var options = new ChatOptions
                {
                    Seed = seed,
                    MaxOutputTokens = 128,
                    TopP = 1f,
                    ResponseFormat = Microsoft.Extensions.AI.ChatResponseFormat.ForJsonSchema(schemaDoc.RootElement.Clone(), "person", "A person"),
                };
                ChatResponse response = await client.GetResponseAsync("Describe a person as JSON.", options);
                if (response.FinishReason == Microsoft.Extensions.AI.ChatFinishReason.Length)
                {
                    unfinished.Add(JsonSerializer.Serialize(response.Text));
                    continue;
                }
                Assert.Equal(Microsoft.Extensions.AI.ChatFinishReason.Stop, response.FinishReason);
                using JsonDocument doc = JsonDocument.Parse(response.Text);
                Assert.True(schema.Evaluate(doc.RootElement).IsValid, $"seed {seed}: {response.Text}");
                valid++;
            }
            Assert.True(valid >= 1, "no JSON answer finished within 128 tokens over 8 seeds: " + string.Join(" | ", unfinished));
        }
    }

    [Fact]
    public async Task LongSharedSystemPrompt_IsPrefilledOnce_AcrossRequests()
    {
        var (server, backend) = await _file.StartServerAsync(context: 2048);
        await using (server)
        using (backend)
        {
            ChatClient client = Client(server);
            string system = "You are an agent with these rules. " + string.Join(" ", Enumerable.Range(0, 30).Select(i => $"Rule {i}: answer plainly."));
            ChatCompletion a = await client.CompleteChatAsync([new SystemChatMessage(system), new UserChatMessage("first question")], Seeded(1, 4));
            ChatCompletion b = await client.CompleteChatAsync([new SystemChatMessage(system), new UserChatMessage("a different second question")], Seeded(2, 4));

            Assert.Equal(0, a.Usage.InputTokenDetails.CachedTokenCount);
            int cached = b.Usage.InputTokenDetails.CachedTokenCount;
            Assert.True(cached > 200, $"expected the system prompt (> 200 tokens) from the cache, got {cached} of {b.Usage.InputTokenCount}");
            Assert.True(cached < b.Usage.InputTokenCount - 2, "the new user message must be prefilled");
            Assert.True(backend.GetStats().PrefixCacheHitTokens >= cached);

            string metrics = await server.Client.GetStringAsync("/metrics");
            Assert.Contains("edgewise_prefix_cache_entries", metrics, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task SeveralChoices_AndRawCompletionWithEcho()
    {
        var (server, backend) = await _file.StartServerAsync();
        await using (server)
        using (backend)
        {
            using HttpResponseMessage chat = await Wire.PostAsync(server.Client, "/v1/chat/completions",
                """{"model":"tiny-gemma4","messages":[{"role":"user","content":"two answers"}],"n":3,"max_tokens":6,"seed":9}""");
            Assert.Equal(System.Net.HttpStatusCode.OK, chat.StatusCode);
            JsonElement body = await Wire.JsonAsync(chat);
            JsonElement[] choices = [.. body.GetProperty("choices").EnumerateArray()];
            Assert.Equal([0, 1, 2], choices.Select(c => c.GetProperty("index").GetInt32()));
            JsonElement usage = body.GetProperty("usage");
            Assert.InRange(usage.GetProperty("completion_tokens").GetInt32(), 3, 18);
            // Choices after the first find the whole prompt (but its last token) in the session.
            Assert.True(usage.GetProperty("prompt_tokens").GetInt32() > 3);

            using HttpResponseMessage raw = await Wire.PostAsync(server.Client, "/v1/completions",
                """{"model":"tiny-gemma4","prompt":"Once upon a time","max_tokens":5,"echo":true,"seed":3}""");
            Assert.Equal(System.Net.HttpStatusCode.OK, raw.StatusCode);
            JsonElement completion = await Wire.JsonAsync(raw);
            string text = completion.GetProperty("choices")[0].GetProperty("text").GetString()!;
            Assert.StartsWith("Once upon a time", text, StringComparison.Ordinal);
            // bos + the prompt's pieces: the raw prompt is not templated.
            Assert.InRange(completion.GetProperty("usage").GetProperty("prompt_tokens").GetInt32(), 2, 20);
        }
    }

    [Fact]
    public async Task BrokenFile_LoadsInTheBackground_AndHealthSays503WithTheReason()
    {
        string broken = Path.Combine(Path.GetTempPath(), "edgewise-broken-" + Guid.NewGuid().ToString("N") + ".gguf");
        await File.WriteAllBytesAsync(broken, [0x47, 0x47, 0x55, 0x46, 3, 0, 0, 0, 1, 2, 3]);
        try
        {
            using var backend = new EngineChatBackend(broken, new BackendOptions(256, 1, 1));
            await using TestServer server = await TestServer.StartAsync(backend);
            await backend.Loaded.WaitAsync(TimeSpan.FromSeconds(30));
            Assert.Equal(BackendState.Failed, backend.Status.State);
            Assert.Contains(Path.GetFileName(broken), backend.Status.Message, StringComparison.Ordinal);
            using HttpResponseMessage health = await server.Client.GetAsync("/health");
            Assert.Equal(System.Net.HttpStatusCode.ServiceUnavailable, health.StatusCode);
            Assert.Equal(BackendStats.Empty, backend.GetStats());
        }
        finally
        {
            File.Delete(broken);
        }
    }

    [Fact]
    public async Task ContextAboveTheModels_FailsTheLoad_WithTheLimitInHealth()
    {
        using var backend = new EngineChatBackend(_file.Path, new BackendOptions(SyntheticGemma4File.Spec.Context * 2, 1, 1));
        await using TestServer server = await TestServer.StartAsync(backend);
        await backend.Loaded.WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Equal(BackendState.Failed, backend.Status.State);
        Assert.Contains($"--ctx {SyntheticGemma4File.Spec.Context * 2} is outside 1..{SyntheticGemma4File.Spec.Context}", backend.Status.Message, StringComparison.Ordinal);
        using HttpResponseMessage health = await server.Client.GetAsync("/health");
        Assert.Equal(System.Net.HttpStatusCode.ServiceUnavailable, health.StatusCode);
    }

    [Fact]
    public async Task Refusals_ComeBeforeTheStream_WithTheirNumbers()
    {
        var (server, backend) = await _file.StartServerAsync(context: 256);
        await using (server)
        using (backend)
        {
            string longText = string.Join(" ", Enumerable.Range(0, 300).Select(i => $"word{i}"));
            using HttpResponseMessage overflow = await Wire.PostAsync(server.Client, "/v1/chat/completions",
                JsonSerializer.Serialize(new { model = "tiny-gemma4", stream = true, messages = new[] { new { role = "user", content = longText } } }));
            Assert.Equal(System.Net.HttpStatusCode.BadRequest, overflow.StatusCode);
            JsonElement error = (await Wire.JsonAsync(overflow)).GetProperty("error");
            Assert.Equal("context_length_exceeded", error.GetProperty("code").GetString());
            Assert.Contains("256", error.GetProperty("message").GetString(), StringComparison.Ordinal);

            using HttpResponseMessage badSchema = await Wire.PostAsync(server.Client, "/v1/chat/completions",
                """{"model":"tiny-gemma4","messages":[{"role":"user","content":"hi"}],"response_format":{"type":"json_schema","json_schema":{"name":"x","schema":{"type":"object","properties":{"a":{"type":"string","minLength":5,"maxLength":2}}}}}}""");
            Assert.Equal(System.Net.HttpStatusCode.BadRequest, badSchema.StatusCode);
            JsonElement schemaError = (await Wire.JsonAsync(badSchema)).GetProperty("error");
            Assert.Equal("invalid_schema", schemaError.GetProperty("code").GetString());
            Assert.Contains("/properties/a", schemaError.GetProperty("message").GetString(), StringComparison.Ordinal);
            Assert.True(await TestServer.EventuallyAsync(() => backend.GetStats().ActiveSessions == 0));
        }
    }
}

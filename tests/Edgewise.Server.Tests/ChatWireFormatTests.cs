using System.Text.Json;
using Edgewise.Server.Backend;
using Edgewise.Server.Tests.Support;

namespace Edgewise.Server.Tests;

/// <summary>The exact bytes OpenAI clients parse: chunk order, delta shapes, nulls, [DONE].</summary>
public sealed class ChatWireFormatTests
{
    private const string Tools = """
        "tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}},
                 {"type":"function","function":{"name":"get_time","parameters":{"type":"object","properties":{"zone":{"type":"string"}}}}}]
        """;

    [Fact]
    public async Task StreamedToolCalls_FollowOpenAiDeltaRules()
    {
        await using var server = await TestServer.StartAsync();
        using var response = await Wire.PostAsync(server.Client, "/v1/chat/completions",
            $$"""{"model":"gemma-test","stream":true,"stream_options":{"include_usage":true},{{Tools}},"messages":[{"role":"user","content":"weather and time"}]}""");

        Assert.Equal("text/event-stream", response.Content.Headers.ContentType!.MediaType);
        var events = await Wire.SseAsync(response);
        Assert.Equal("[DONE]", events[^1].Data);
        var chunks = Wire.Parse(events.Take(events.Count - 1).Select(e => e.Data));
        Assert.All(chunks, c => Assert.Equal("chat.completion.chunk", c.GetProperty("object").GetString()));
        Assert.Single(chunks.Select(c => c.GetProperty("id").GetString()).Distinct());

        var first = chunks[0].GetProperty("choices")[0];
        Assert.Equal("assistant", first.GetProperty("delta").GetProperty("role").GetString());
        Assert.Equal(JsonValueKind.Null, first.GetProperty("finish_reason").ValueKind);

        var deltas = chunks.Where(c => c.GetProperty("choices").GetArrayLength() > 0)
            .Select(c => c.GetProperty("choices")[0].GetProperty("delta"))
            .Where(d => d.TryGetProperty("tool_calls", out _))
            .Select(d => d.GetProperty("tool_calls")[0]).ToList();
        foreach (var index in new[] { 0, 1 })
        {
            var forIndex = deltas.Where(d => d.GetProperty("index").GetInt32() == index).ToList();
            var head = forIndex[0];
            Assert.StartsWith("call_", head.GetProperty("id").GetString(), StringComparison.Ordinal);
            Assert.Equal("function", head.GetProperty("type").GetString());
            Assert.Equal(index == 0 ? "get_weather" : "get_time", head.GetProperty("function").GetProperty("name").GetString());
            Assert.Equal("", head.GetProperty("function").GetProperty("arguments").GetString());
            Assert.All(forIndex.Skip(1), d =>
            {
                Assert.False(d.TryGetProperty("id", out _));
                Assert.False(d.TryGetProperty("type", out _));
                Assert.False(d.GetProperty("function").TryGetProperty("name", out _));
            });
            var arguments = string.Concat(forIndex.Select(d => d.GetProperty("function").GetProperty("arguments").GetString()));
            Assert.Equal(index == 0 ? """{"city":"Paris"}""" : """{"zone":"Paris"}""", arguments);
        }

        var finish = chunks[^2].GetProperty("choices")[0];
        Assert.Equal("tool_calls", finish.GetProperty("finish_reason").GetString());
        var usage = chunks[^1];
        Assert.Equal(0, usage.GetProperty("choices").GetArrayLength());
        Assert.True(usage.GetProperty("usage").GetProperty("completion_tokens").GetInt32() > 0);
        Assert.All(chunks.Take(chunks.Count - 1), c => Assert.False(c.TryGetProperty("usage", out _)));
    }

    [Fact]
    public async Task NonStreamedToolCalls_HaveNullContentAndStringArguments()
    {
        await using var server = await TestServer.StartAsync();
        using var response = await Wire.PostAsync(server.Client, "/v1/chat/completions",
            $$$"""{"model":"gemma-test",{{{Tools}}},"tool_choice":{"type":"function","function":{"name":"get_time"}},"messages":[{"role":"user","content":"hi"}]}""");

        var body = await Wire.JsonAsync(response);
        var choice = body.GetProperty("choices")[0];
        Assert.Equal("tool_calls", choice.GetProperty("finish_reason").GetString());
        var message = choice.GetProperty("message");
        Assert.Equal(JsonValueKind.Null, message.GetProperty("content").ValueKind);
        Assert.Equal(JsonValueKind.Null, choice.GetProperty("logprobs").ValueKind);
        var call = message.GetProperty("tool_calls")[0];
        Assert.Equal("get_time", call.GetProperty("function").GetProperty("name").GetString());
        Assert.Equal(JsonValueKind.String, call.GetProperty("function").GetProperty("arguments").ValueKind);
    }

    [Fact]
    public async Task Thinking_StreamsReasoningContentSeparately()
    {
        await using var server = await TestServer.StartAsync();
        using var response = await Wire.PostAsync(server.Client, "/v1/chat/completions",
            """{"model":"gemma-test","chat_template_kwargs":{"enable_thinking":true},"messages":[{"role":"user","content":"why"}]}""");

        var message = (await Wire.JsonAsync(response)).GetProperty("choices")[0].GetProperty("message");
        Assert.Equal("Let me think about this.", message.GetProperty("reasoning_content").GetString());
        Assert.Equal("Echo: why", message.GetProperty("content").GetString());
        Assert.True(server.Backend.Requests.Single().EnableThinking);
    }

    [Theory]
    [InlineData("\"reasoning_effort\":\"high\"", true)]
    [InlineData("\"enable_thinking\":true", true)]
    [InlineData("\"enable_thinking\":false,\"reasoning_effort\":\"high\"", false)]
    [InlineData("\"reasoning_effort\":\"none\"", false)]
    [InlineData("\"temperature\":1", false)]
    public async Task ThinkingSwitch(string field, bool expected)
    {
        await using var server = await TestServer.StartAsync();
        using var response = await Wire.PostAsync(server.Client, "/v1/chat/completions",
            $$"""{"model":"gemma-test",{{field}},"messages":[{"role":"user","content":"x"}]}""");

        Assert.True(response.IsSuccessStatusCode);
        Assert.Equal(expected, server.Backend.Requests.Single().EnableThinking);
    }

    [Fact]
    public async Task MultipleChoices_StreamWithTheirIndex()
    {
        await using var server = await TestServer.StartAsync();
        using var response = await Wire.PostAsync(server.Client, "/v1/chat/completions",
            """{"model":"gemma-test","n":2,"stream":true,"messages":[{"role":"user","content":"two"}]}""");

        var chunks = Wire.Parse((await Wire.SseAsync(response)).SkipLast(1).Select(e => e.Data));
        foreach (var index in new[] { 0, 1 })
        {
            var text = string.Concat(chunks.Select(c => c.GetProperty("choices")[0]).Where(c => c.GetProperty("index").GetInt32() == index)
                .Select(c => c.GetProperty("delta").TryGetProperty("content", out var t) ? t.GetString() : ""));
            Assert.Equal("Echo: two", text);
        }
    }

    [Fact]
    public async Task LenientShapes_ContentParts_StopString_MaxTokensAlias_LegacyFunctions()
    {
        await using var server = await TestServer.StartAsync();
        using var response = await Wire.PostAsync(server.Client, "/v1/chat/completions", """
            {"model":"test","max_tokens":50,"stop":"END","seed":7,"presence_penalty":0.5,"frequency_penalty":-0.5,"top_p":0.9,"logit_bias":{"42":-100},
             "functions":[{"name":"lookup","parameters":{"type":"object"}}],"function_call":{"name":"lookup"},
             "messages":[{"role":"developer","content":[{"type":"text","text":"rules"}]},
                         {"role":"user","content":[{"type":"text","text":"look"},{"type":"image_url","image_url":{"url":"data:image/png;base64,AAAA"}}]}]}
            """);

        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
        var request = server.Backend.Requests.Single();
        Assert.Equal("gemma-test", request.Model);
        Assert.Equal(50, request.MaxTokens);
        Assert.Equal(["END"], request.Stop);
        Assert.Equal(-100f, request.Sampling.LogitBias[42]);
        Assert.Equal(ToolChoiceMode.Function, request.ToolChoice.Mode);
        Assert.Equal(MessageRole.Developer, request.Messages[0].Role);
        Assert.Equal(ContentPartKind.Image, request.Messages[1].Content[1].Kind);
        Assert.Equal("data:image/png;base64,AAAA", request.Messages[1].Content[1].Url);
    }

    [Fact]
    public async Task MaxTokensAndStop_EndTheAnswer()
    {
        await using var server = await TestServer.StartAsync();
        using var limited = await Wire.PostAsync(server.Client, "/v1/chat/completions",
            """{"model":"gemma-test","max_completion_tokens":2,"messages":[{"role":"user","content":"one two three four"}]}""");
        var choice = (await Wire.JsonAsync(limited)).GetProperty("choices")[0];
        Assert.Equal("length", choice.GetProperty("finish_reason").GetString());
        Assert.Equal("Echo: one", choice.GetProperty("message").GetProperty("content").GetString());

        using var stopped = await Wire.PostAsync(server.Client, "/v1/chat/completions",
            """{"model":"gemma-test","stop":["three"],"messages":[{"role":"user","content":"one two three four"}]}""");
        Assert.Equal("Echo: one two ", (await Wire.JsonAsync(stopped)).GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString());
    }

    [Fact]
    public async Task ContextOverflow_FromTheBackend_Is400WithNumbers()
    {
        await using var server = await TestServer.StartAsync(new ScriptedBackend(contextLength: 32));
        var words = string.Join(' ', Enumerable.Repeat("word", 40));
        using var response = await Wire.PostAsync(server.Client, "/v1/chat/completions",
            $$"""{"model":"gemma-test","messages":[{"role":"user","content":"{{words}}"}]}""");

        Assert.Equal(400, (int)response.StatusCode);
        var error = (await Wire.JsonAsync(response)).GetProperty("error");
        Assert.Equal("context_length_exceeded", error.GetProperty("code").GetString());
        Assert.Contains("maximum context length is 32 tokens", error.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Equal(0, server.State.Queue.Active);
    }

    [Theory]
    [InlineData("\"tool_choice\":\"none\"", ToolChoiceMode.None, 2)]
    [InlineData("\"tool_choice\":\"auto\",\"parallel_tool_calls\":false", ToolChoiceMode.Auto, 2)]
    [InlineData("\"tool_choice\":{\"type\":\"allowed_tools\",\"allowed_tools\":{\"mode\":\"required\",\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"get_time\"}}]}}", ToolChoiceMode.Required, 1)]
    public async Task ToolChoiceVariants_ReachTheBackend(string field, ToolChoiceMode mode, int toolCount)
    {
        await using var server = await TestServer.StartAsync();
        using var response = await Wire.PostAsync(server.Client, "/v1/chat/completions",
            $$"""{"model":"gemma-test",{{Tools}},{{field}},"messages":[{"role":"user","content":"weather"}]}""");

        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
        var request = server.Backend.Requests.Single();
        Assert.Equal(mode, request.ToolChoice.Mode);
        Assert.Equal(toolCount, request.Tools.Count);
        Assert.Equal(!field.Contains("parallel_tool_calls", StringComparison.Ordinal), request.ParallelToolCalls);
        var message = (await Wire.JsonAsync(response)).GetProperty("choices")[0].GetProperty("message");
        Assert.Equal(mode != ToolChoiceMode.None, message.TryGetProperty("tool_calls", out _));
    }
}

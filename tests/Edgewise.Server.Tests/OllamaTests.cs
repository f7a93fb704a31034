using System.Net;
using System.Text.Json;
using Edgewise.Server.Backend;
using Edgewise.Server.Tests.Support;

namespace Edgewise.Server.Tests;

/// <summary>Ollama's native API over raw HTTP: NDJSON streaming, whole tool calls, tags, version, show.</summary>
public sealed class OllamaTests
{
    private const string Tools = """ "tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}}]""";

    [Fact]
    public async Task Chat_StreamsNdjsonByDefault_WithStatsInTheLastLine()
    {
        await using var server = await TestServer.StartAsync();
        using var response = await Wire.PostAsync(server.Client, "/api/chat",
            """{"model":"gemma-test","messages":[{"role":"user","content":"hi there"}],"options":{"temperature":0.2,"num_predict":20,"stop":["zzz"],"seed":3}}""");

        Assert.Equal("application/x-ndjson", response.Content.Headers.ContentType!.MediaType);
        var lines = Wire.Parse((await response.Content.ReadAsStringAsync()).Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.All(lines.SkipLast(1), l => Assert.False(l.GetProperty("done").GetBoolean()));
        Assert.Equal("Echo: hi there", string.Concat(lines.Select(l => l.GetProperty("message").GetProperty("content").GetString())));
        var last = lines[^1];
        Assert.True(last.GetProperty("done").GetBoolean());
        Assert.Equal("stop", last.GetProperty("done_reason").GetString());
        Assert.Equal(3, last.GetProperty("eval_count").GetInt32());
        Assert.True(last.GetProperty("total_duration").GetInt64() > 0);
        Assert.EndsWith("Z", last.GetProperty("created_at").GetString(), StringComparison.Ordinal);
        var request = server.Backend.Requests.Single();
        Assert.Equal(0.2f, request.Sampling.Temperature);
        Assert.Equal(20, request.MaxTokens);
        Assert.Equal(["zzz"], request.Stop);
        Assert.Equal(3, request.Sampling.Seed);
    }

    [Fact]
    public async Task Logprobs_RideOnEachChunk_AndTheWholeAnswer()
    {
        await using var server = await TestServer.StartAsync();
        using var streamed = await Wire.PostAsync(server.Client, "/api/chat",
            """{"model":"gemma-test","messages":[{"role":"user","content":"hi there"}],"logprobs":true,"top_logprobs":2}""");
        var lines = Wire.Parse((await streamed.Content.ReadAsStringAsync()).Split('\n', StringSplitOptions.RemoveEmptyEntries));
        var withText = lines.Where(l => l.GetProperty("message").GetProperty("content").GetString() is { Length: > 0 }).ToList();
        Assert.NotEmpty(withText);
        foreach (var line in withText)
        {
            var entry = Assert.Single(line.GetProperty("logprobs").EnumerateArray());
            string token = entry.GetProperty("token").GetString()!;
            Assert.Equal(line.GetProperty("message").GetProperty("content").GetString(), token);
            Assert.Equal(-0.25f, entry.GetProperty("logprob").GetSingle());
            Assert.Equal(System.Text.Encoding.UTF8.GetBytes(token), entry.GetProperty("bytes").EnumerateArray().Select(b => (byte)b.GetInt32()));
            Assert.Equal(2, entry.GetProperty("top_logprobs").GetArrayLength());
        }
        Assert.True(server.Backend.Requests.Single().Logprobs);

        using var whole = await Wire.PostAsync(server.Client, "/api/generate",
            """{"model":"gemma-test","prompt":"hi there","stream":false,"logprobs":true}""");
        var body = await Wire.JsonAsync(whole);
        var entries = body.GetProperty("logprobs").EnumerateArray().ToList();
        Assert.NotEmpty(entries);
        Assert.Equal(body.GetProperty("response").GetString(), string.Concat(entries.Select(e => e.GetProperty("token").GetString())));
        Assert.All(entries, e => Assert.False(e.TryGetProperty("top_logprobs", out _)));

        using var plain = await Wire.PostAsync(server.Client, "/api/generate", """{"model":"gemma-test","prompt":"hi","stream":false}""");
        Assert.False((await Wire.JsonAsync(plain)).TryGetProperty("logprobs", out _));
        using var refused = await Wire.PostAsync(server.Client, "/api/chat",
            """{"model":"gemma-test","messages":[{"role":"user","content":"hi"}],"top_logprobs":3}""");
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
    }

    [Fact]
    public async Task Chat_ToolCallsArriveWholeWithObjectArguments_AndResultsMapBackByName()
    {
        await using var server = await TestServer.StartAsync();
        var first = await Wire.JsonAsync(await Wire.PostAsync(server.Client, "/api/chat",
            $$"""{"model":"gemma-test","stream":false,{{Tools}},"messages":[{"role":"user","content":"weather in Paris?"}]}"""));

        var call = first.GetProperty("message").GetProperty("tool_calls")[0].GetProperty("function");
        Assert.Equal("get_weather", call.GetProperty("name").GetString());
        Assert.Equal(JsonValueKind.Object, call.GetProperty("arguments").ValueKind);
        Assert.Equal("Paris", call.GetProperty("arguments").GetProperty("city").GetString());
        Assert.Equal(0, call.GetProperty("index").GetInt32());

        using var streamed = await Wire.PostAsync(server.Client, "/api/chat",
            $$"""{"model":"gemma-test",{{Tools}},"messages":[{"role":"user","content":"weather in Paris?"}]}""");
        var lines = Wire.Parse((await streamed.Content.ReadAsStringAsync()).Split('\n', StringSplitOptions.RemoveEmptyEntries));
        var withCalls = lines.Where(l => l.GetProperty("message").TryGetProperty("tool_calls", out _)).ToList();
        Assert.Single(withCalls);
        Assert.Equal("Paris", withCalls[0].GetProperty("message").GetProperty("tool_calls")[0].GetProperty("function").GetProperty("arguments").GetProperty("city").GetString());

        var second = await Wire.JsonAsync(await Wire.PostAsync(server.Client, "/api/chat", $$$$"""
            {"model":"gemma-test","stream":false,{{{{Tools}}}},"messages":[
              {"role":"user","content":"weather in Paris?"},
              {"role":"assistant","content":"","tool_calls":[{"function":{"name":"get_weather","arguments":{"city":"Paris"}}}]},
              {"role":"tool","tool_name":"get_weather","content":"11 degrees"}]}
            """));
        Assert.Equal("The tool get_weather said: 11 degrees", second.GetProperty("message").GetProperty("content").GetString());
        var replay = server.Backend.Requests.Last();
        Assert.Equal(replay.Messages[1].ToolCalls[0].Id, replay.Messages[2].ToolCallId);
        Assert.Equal("""{"city":"Paris"}""", replay.Messages[1].ToolCalls[0].ArgumentsJson);
    }

    [Fact]
    public async Task Chat_ThinkAndFormat()
    {
        await using var server = await TestServer.StartAsync();
        var body = await Wire.JsonAsync(await Wire.PostAsync(server.Client, "/api/chat",
            """{"model":"gemma-test","stream":false,"think":true,"format":{"type":"object","properties":{"n":{"type":"integer"}}},"messages":[{"role":"user","content":"x"}]}"""));

        Assert.Equal("Let me think about this.", body.GetProperty("message").GetProperty("thinking").GetString());
        Assert.Equal("""{"n":3}""", body.GetProperty("message").GetProperty("content").GetString());
        var request = server.Backend.Requests.Single();
        Assert.True(request.EnableThinking);
        Assert.Equal(ResponseFormatKind.JsonSchema, request.ResponseFormat.Kind);
    }

    [Fact]
    public async Task Generate_TemplatedAndRaw()
    {
        await using var server = await TestServer.StartAsync();
        var templated = await Wire.JsonAsync(await Wire.PostAsync(server.Client, "/api/generate",
            """{"model":"gemma-test","system":"sys","prompt":"why sky blue","stream":false,"format":"json"}"""));
        Assert.Equal("{\"answer\": \"yes\"}", templated.GetProperty("response").GetString());
        Assert.True(templated.GetProperty("done").GetBoolean());
        var first = server.Backend.Requests.Single();
        Assert.Equal([MessageRole.System, MessageRole.User], first.Messages.Select(m => m.Role));
        Assert.Equal(ResponseFormatKind.JsonObject, first.ResponseFormat.Kind);

        using var raw = await Wire.PostAsync(server.Client, "/api/generate", """{"model":"gemma-test","prompt":"<bos>text","raw":true}""");
        var lines = Wire.Parse((await raw.Content.ReadAsStringAsync()).Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal(" and so on.", string.Concat(lines.Select(l => l.GetProperty("response").GetString())));
        Assert.Equal("<bos>text", server.Backend.Requests.Last().Prompt);
    }

    [Fact]
    public async Task EmptyPrompt_AnswersAsALoad()
    {
        await using var server = await TestServer.StartAsync();
        var body = await Wire.JsonAsync(await Wire.PostAsync(server.Client, "/api/generate", """{"model":"gemma-test"}"""));
        Assert.Equal("load", body.GetProperty("done_reason").GetString());
        Assert.Empty(server.Backend.Requests);
    }

    [Fact]
    public async Task TagsVersionShow()
    {
        await using var server = await TestServer.StartAsync();

        var tags = await Wire.JsonAsync(await server.Client.GetAsync("/api/tags"));
        var model = tags.GetProperty("models").EnumerateArray().Single();
        Assert.Equal("gemma-test", model.GetProperty("name").GetString());
        Assert.Equal(3_100_000_000, model.GetProperty("size").GetInt64());
        Assert.Equal("gemma4", model.GetProperty("details").GetProperty("family").GetString());
        Assert.Equal("Q4_K", model.GetProperty("details").GetProperty("quantization_level").GetString());

        var version = await Wire.JsonAsync(await server.Client.GetAsync("/api/version"));
        Assert.Matches(@"^\d+\.\d+\.\d+$", version.GetProperty("version").GetString());

        var show = await Wire.JsonAsync(await Wire.PostAsync(server.Client, "/api/show", """{"model":"gemma-test:latest"}"""));
        Assert.Equal(4096, show.GetProperty("model_info").GetProperty("gemma4.context_length").GetInt32());
        Assert.Equal(["completion", "tools", "thinking"], show.GetProperty("capabilities").EnumerateArray().Select(c => c.GetString()));

        Assert.Contains("Edgewise is running", await server.Client.GetStringAsync("/"), StringComparison.Ordinal);
        using var missing = await Wire.PostAsync(server.Client, "/api/show", """{"model":"nope"}""");
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
    }
}

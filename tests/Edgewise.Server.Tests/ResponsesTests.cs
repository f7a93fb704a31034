using System.Text.Json;
using Edgewise.Server.Backend;
using Edgewise.Server.Tests.Support;

namespace Edgewise.Server.Tests;

/// <summary>Stateless /v1/responses: items, function calls, and the typed streaming events.</summary>
public sealed class ResponsesTests
{
    private const string Tool = """{"type":"function","name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}""";

    [Fact]
    public async Task TextResponse_NonStreaming()
    {
        await using var server = await TestServer.StartAsync();
        var body = await Wire.JsonAsync(await Wire.PostAsync(server.Client, "/v1/responses",
            """{"model":"gemma-test","instructions":"Be nice.","input":"hello you","max_output_tokens":50}"""));

        Assert.Equal("response", body.GetProperty("object").GetString());
        Assert.StartsWith("resp_", body.GetProperty("id").GetString(), StringComparison.Ordinal);
        Assert.Equal("completed", body.GetProperty("status").GetString());
        var message = body.GetProperty("output").EnumerateArray().Single();
        Assert.Equal("message", message.GetProperty("type").GetString());
        Assert.Equal("assistant", message.GetProperty("role").GetString());
        Assert.Equal("output_text", message.GetProperty("content")[0].GetProperty("type").GetString());
        Assert.Equal("Echo: hello you", message.GetProperty("content")[0].GetProperty("text").GetString());
        Assert.Equal(3, body.GetProperty("usage").GetProperty("output_tokens").GetInt32());
        var request = server.Backend.Requests.Single();
        Assert.Equal([MessageRole.System, MessageRole.User], request.Messages.Select(m => m.Role));
        Assert.Equal(50, request.MaxTokens);
    }

    [Fact]
    public async Task TopLogprobs_FillTheTextPart_AndEachDelta()
    {
        await using var server = await TestServer.StartAsync();
        var body = await Wire.JsonAsync(await Wire.PostAsync(server.Client, "/v1/responses",
            """{"model":"gemma-test","input":"hello you","top_logprobs":2}"""));
        var part = body.GetProperty("output").EnumerateArray().Single().GetProperty("content")[0];
        var entries = part.GetProperty("logprobs").EnumerateArray().ToList();
        Assert.Equal(part.GetProperty("text").GetString(), string.Concat(entries.Select(e => e.GetProperty("token").GetString())));
        Assert.All(entries, e => Assert.Equal(2, e.GetProperty("top_logprobs").GetArrayLength()));

        using var streamed = await Wire.PostAsync(server.Client, "/v1/responses", """{"model":"gemma-test","input":"hello you","top_logprobs":1,"stream":true}""");
        var deltas = (await Wire.SseAsync(streamed)).Where(e => e.Event == "response.output_text.delta").Select(e => JsonDocument.Parse(e.Data).RootElement).ToList();
        Assert.NotEmpty(deltas);
        Assert.All(deltas, d => Assert.Equal(d.GetProperty("delta").GetString(), string.Concat(d.GetProperty("logprobs").EnumerateArray().Select(e => e.GetProperty("token").GetString()))));

        // Not asked: no logprobs field at all.
        var plain = await Wire.JsonAsync(await Wire.PostAsync(server.Client, "/v1/responses", """{"model":"gemma-test","input":"hello you"}"""));
        Assert.False(plain.GetProperty("output")[0].GetProperty("content")[0].TryGetProperty("logprobs", out _));
    }

    [Fact]
    public async Task FunctionCall_RoundTripThroughInputItems()
    {
        await using var server = await TestServer.StartAsync();
        var first = await Wire.JsonAsync(await Wire.PostAsync(server.Client, "/v1/responses",
            $$"""{"model":"gemma-test","input":[{"role":"user","content":[{"type":"input_text","text":"go"}]}],"tools":[{{Tool}}],"tool_choice":"required"}"""));

        var call = first.GetProperty("output").EnumerateArray().Single();
        Assert.Equal("function_call", call.GetProperty("type").GetString());
        Assert.Equal("get_weather", call.GetProperty("name").GetString());
        Assert.Equal("""{"city":"Paris"}""", call.GetProperty("arguments").GetString());
        var callId = call.GetProperty("call_id").GetString();

        var second = await Wire.JsonAsync(await Wire.PostAsync(server.Client, "/v1/responses",
            $$"""
            {"model":"gemma-test","tools":[{{Tool}}],"input":[
              {"role":"user","content":"go"},
              {"type":"function_call","call_id":"{{callId}}","name":"get_weather","arguments":"{\"city\":\"Paris\"}"},
              {"type":"function_call_output","call_id":"{{callId}}","output":"rainy"}]}
            """));

        Assert.Equal("The tool get_weather said: rainy", second.GetProperty("output")[0].GetProperty("content")[0].GetProperty("text").GetString());
        var replay = server.Backend.Requests.Last();
        Assert.Equal(callId, replay.Messages[1].ToolCalls.Single().Id);
        Assert.Equal("get_weather", replay.Messages[2].ToolName);
    }

    [Fact]
    public async Task Streaming_EmitsTypedEventsInOrder()
    {
        await using var server = await TestServer.StartAsync();
        using var response = await Wire.PostAsync(server.Client, "/v1/responses",
            $$"""{"model":"gemma-test","stream":true,"reasoning":{"effort":"low"},"input":"weather please","tools":[{{Tool}}]}""");

        var events = await Wire.SseAsync(response);
        var types = events.Select(e => e.Event!).ToList();
        Assert.Equal(types, Wire.Parse(events.Select(e => e.Data)).Select(d => d.GetProperty("type").GetString()));
        Assert.Equal("response.created", types[0]);
        Assert.Equal("response.in_progress", types[1]);
        Assert.Equal("response.completed", types[^1]);
        Assert.Contains("response.reasoning_text.delta", types);
        Assert.Contains("response.function_call_arguments.delta", types);
        Assert.True(types.IndexOf("response.function_call_arguments.done") > types.LastIndexOf("response.function_call_arguments.delta"));
        var sequence = Wire.Parse(events.Select(e => e.Data)).Select(d => d.GetProperty("sequence_number").GetInt32()).ToList();
        Assert.Equal(Enumerable.Range(0, sequence.Count), sequence);

        var data = Wire.Parse(events.Select(e => e.Data));
        var arguments = string.Concat(data.Where(d => d.GetProperty("type").GetString() == "response.function_call_arguments.delta").Select(d => d.GetProperty("delta").GetString()));
        Assert.Equal("""{"city":"Paris"}""", arguments);
        var completed = data[^1].GetProperty("response");
        Assert.Equal(["reasoning", "function_call"], completed.GetProperty("output").EnumerateArray().Select(i => i.GetProperty("type").GetString()));
        Assert.True(completed.GetProperty("usage").GetProperty("output_tokens_details").GetProperty("reasoning_tokens").GetInt32() > 0);
    }

    [Fact]
    public async Task Streaming_TextEventsCarryItemIdsAndDoneText()
    {
        await using var server = await TestServer.StartAsync();
        using var response = await Wire.PostAsync(server.Client, "/v1/responses", """{"model":"gemma-test","stream":true,"input":"one two"}""");

        var data = Wire.Parse((await Wire.SseAsync(response)).Select(e => e.Data));
        var added = data.Single(d => d.GetProperty("type").GetString() == "response.output_item.added");
        var itemId = added.GetProperty("item").GetProperty("id").GetString();
        var deltas = data.Where(d => d.GetProperty("type").GetString() == "response.output_text.delta").ToList();
        Assert.All(deltas, d => Assert.Equal(itemId, d.GetProperty("item_id").GetString()));
        Assert.Equal("Echo: one two", string.Concat(deltas.Select(d => d.GetProperty("delta").GetString())));
        Assert.Equal("Echo: one two", data.Single(d => d.GetProperty("type").GetString() == "response.output_text.done").GetProperty("text").GetString());
    }

    [Fact]
    public async Task MaxOutputTokens_MarksTheResponseIncomplete()
    {
        await using var server = await TestServer.StartAsync();
        var body = await Wire.JsonAsync(await Wire.PostAsync(server.Client, "/v1/responses", """{"model":"gemma-test","input":"a b c d e","max_output_tokens":2}"""));
        Assert.Equal("incomplete", body.GetProperty("status").GetString());
        Assert.Equal("max_output_tokens", body.GetProperty("incomplete_details").GetProperty("reason").GetString());
    }

    [Fact]
    public async Task JsonSchemaTextFormat_IsPassedThrough()
    {
        await using var server = await TestServer.StartAsync();
        var body = await Wire.JsonAsync(await Wire.PostAsync(server.Client, "/v1/responses",
            """{"model":"gemma-test","input":"x","text":{"format":{"type":"json_schema","name":"out","strict":true,"schema":{"type":"object","properties":{"ok":{"type":"boolean"}},"required":["ok"]}}}}"""));
        using var output = JsonDocument.Parse(body.GetProperty("output")[0].GetProperty("content")[0].GetProperty("text").GetString()!);
        Assert.True(output.RootElement.GetProperty("ok").GetBoolean());
        Assert.Equal(ResponseFormatKind.JsonSchema, server.Backend.Requests.Single().ResponseFormat.Kind);
    }
}

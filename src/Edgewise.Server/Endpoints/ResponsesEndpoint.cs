using System.Text;
using Edgewise.Server.Backend;
using Edgewise.Server.Hosting;
using Edgewise.Server.Http;
using Edgewise.Server.Json;
using Edgewise.Server.Mapping;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Edgewise.Server.Endpoints;

public static class ResponsesEndpoint
{
    /// <summary><c>POST /v1/responses</c>: stateless Responses API, text, reasoning and function calls, streamed as typed events.</summary>
    public static IEndpointRouteBuilder MapResponses(this IEndpointRouteBuilder app)
    {
        app.MapPost("/v1/responses", HandleAsync);
        app.MapPost("/responses", HandleAsync);
        return app;
    }

    private static async Task HandleAsync(HttpContext http)
    {
        var state = http.RequestServices.GetRequiredService<ServerState>();
        var dto = await JsonBody.ReadAsync(http, ServerJsonContext.Default.ResponsesRequestDto);
        var call = ResponsesRequestMapper.Map(dto, state.Backend);
        await using var generation = await Generation.StartAsync(state, call.Request, http, sseKeepAlive: call.Stream);
        var builder = new ResponseBuilder(call, Ids.Response(), DateTimeOffset.UtcNow.ToUnixTimeSeconds());
        if (!call.Stream)
        {
            await foreach (var e in generation.ReadAllAsync())
                builder.Apply(e);
            await http.Response.WriteAsJsonAsync(builder.Snapshot(final: true), ServerJsonContext.Default.ResponseObjectDto, contentType: null, http.RequestAborted);
            return;
        }

        var writer = EventStreamWriter.StartSse(http);
        var types = ServerJsonContext.Default.ResponseStreamEventDto;
        try
        {
            await writer.WriteAsync(builder.Event("response.created") with { Response = builder.Snapshot(final: false) }, types, "response.created");
            await writer.WriteAsync(builder.Event("response.in_progress") with { Response = builder.Snapshot(final: false) }, types, "response.in_progress");
            await foreach (var e in generation.ReadAllAsync())
            {
                foreach (var streamEvent in builder.Apply(e))
                    await writer.WriteAsync(streamEvent, types, streamEvent.Type);
            }

            var done = builder.Snapshot(final: true);
            var name = done.Status == "completed" ? "response.completed" : "response.incomplete";
            await writer.WriteAsync(builder.Event(name) with { Response = done }, types, name);
        }
        catch (Exception ex) when (!http.RequestAborted.IsCancellationRequested)
        {
            var error = ErrorHandlingMiddleware.ToApiException(ex);
            await writer.WriteAsync(builder.Event("error") with { Code = error.Code, Message = error.Message }, types, "error");
        }
    }

    /// <summary>
    /// Folds generation events into output items (reasoning, message, function calls, in order of
    /// appearance) and yields the stream events OpenAI sends for each step.
    /// </summary>
    private sealed class ResponseBuilder(ResponsesCall call, string id, long created)
    {
        private readonly List<OpenItem> _items = [];
        private readonly Dictionary<int, OpenItem> _calls = [];
        private OpenItem? _message;
        private OpenItem? _reasoning;
        private FinishReason _finish = FinishReason.Stop;
        private GenerationUsage? _usage;
        private int _sequence;

        public ResponseStreamEventDto Event(string type) => new(type, _sequence++);

        public List<ResponseStreamEventDto> Apply(GenerationEvent e)
        {
            var events = new List<ResponseStreamEventDto>();
            if (e.Choice != 0)
                return events; // Responses has no n; only choice 0 exists
            switch (e)
            {
                case ReasoningDeltaEvent reasoning:
                    _reasoning ??= Open("reasoning", "rs", events);
                    _reasoning.Text.Append(reasoning.Text);
                    events.Add(Event("response.reasoning_text.delta") with { ItemId = _reasoning.Id, OutputIndex = _reasoning.OutputIndex, ContentIndex = 0, Delta = reasoning.Text });
                    break;
                case TextDeltaEvent text:
                    Close(ref _reasoning, events);
                    if (_message is null)
                    {
                        _message = Open("message", "msg", events);
                        events.Add(Event("response.content_part.added") with { ItemId = _message.Id, OutputIndex = _message.OutputIndex, ContentIndex = 0, Part = OutputText("") });
                    }

                    _message.Text.Append(text.Text);
                    IReadOnlyList<LogprobEntryDto>? deltaLogprobs = null;
                    if (call.Request.Logprobs && text.Logprobs is not null)
                    {
                        _message.Logprobs.AddRange(text.Logprobs);
                        deltaLogprobs = ChatCompletionsEndpoint.Logprobs(text.Logprobs).Content;
                    }

                    events.Add(Event("response.output_text.delta") with { ItemId = _message.Id, OutputIndex = _message.OutputIndex, ContentIndex = 0, Delta = text.Text, Logprobs = deltaLogprobs });
                    break;
                case ToolCallStartEvent start:
                    Close(ref _reasoning, events);
                    Close(ref _message, events);
                    var item = Open("function_call", "fc", events, start.Id, start.Name);
                    _calls[start.Index] = item;
                    break;
                case ToolCallArgumentsEvent args when _calls.TryGetValue(args.Index, out var open):
                    open.Text.Append(args.Fragment);
                    events.Add(Event("response.function_call_arguments.delta") with { ItemId = open.Id, OutputIndex = open.OutputIndex, Delta = args.Fragment });
                    break;
                case ToolCallEndEvent end when _calls.Remove(end.Index, out var closing):
                    events.Add(Event("response.function_call_arguments.done") with { ItemId = closing.Id, OutputIndex = closing.OutputIndex, Arguments = closing.Text.ToString() });
                    closing.Done = true;
                    events.Add(Event("response.output_item.done") with { OutputIndex = closing.OutputIndex, Item = Item(closing) });
                    break;
                case FinishedEvent finished:
                    _finish = finished.Reason;
                    Close(ref _reasoning, events);
                    Close(ref _message, events);
                    foreach (var call in _calls.Values)
                    {
                        call.Done = true;
                        events.Add(Event("response.output_item.done") with { OutputIndex = call.OutputIndex, Item = Item(call) });
                    }

                    _calls.Clear();
                    break;
                case UsageEvent usage:
                    _usage = usage.Usage;
                    break;
            }

            return events;
        }

        public ResponseObjectDto Snapshot(bool final)
        {
            var status = !final ? "in_progress" : _finish == FinishReason.Length ? "incomplete" : "completed";
            var usage = final && _usage is { } u
                ? new ResponsesUsageDto(u.PromptTokens, u.CompletionTokens, u.TotalTokens, new InputTokensDetailsDto(u.CachedPromptTokens), new OutputTokensDetailsDto(u.ReasoningTokens))
                : null;
            var dto = call.Dto;
            return new ResponseObjectDto(id, created, status, call.Model.Id, final ? [.. _items.Select(Item)] : [], usage,
                status == "incomplete" ? new IncompleteDetailsDto("max_output_tokens") : null,
                call.Request.ParallelToolCalls, dto.Instructions, dto.MaxOutputTokens, dto.Temperature, dto.TopP);
        }

        private OpenItem Open(string type, string prefix, List<ResponseStreamEventDto> events, string? callId = null, string? name = null)
        {
            var item = new OpenItem(type, Ids.Item(prefix), _items.Count, callId, name);
            _items.Add(item);
            events.Add(Event("response.output_item.added") with { OutputIndex = item.OutputIndex, Item = Item(item) });
            return item;
        }

        private void Close(ref OpenItem? item, List<ResponseStreamEventDto> events)
        {
            if (item is null)
                return;
            var text = item.Text.ToString();
            if (item.Type == "message")
            {
                events.Add(Event("response.output_text.done") with { ItemId = item.Id, OutputIndex = item.OutputIndex, ContentIndex = 0, Text = text });
                events.Add(Event("response.content_part.done") with { ItemId = item.Id, OutputIndex = item.OutputIndex, ContentIndex = 0, Part = OutputText(text, item) });
            }
            else
            {
                events.Add(Event("response.reasoning_text.done") with { ItemId = item.Id, OutputIndex = item.OutputIndex, ContentIndex = 0, Text = text });
            }

            item.Done = true;
            events.Add(Event("response.output_item.done") with { OutputIndex = item.OutputIndex, Item = Item(item) });
            item = null;
        }

        private static ResponseContentDto OutputText(string text) => new("output_text", text) { Annotations = [] };

        // The finished text part carries every token's log-prob when the request asked (top_logprobs > 0).
        private ResponseContentDto OutputText(string text, OpenItem item) => OutputText(text) with
        {
            Logprobs = call.Request.Logprobs ? ChatCompletionsEndpoint.Logprobs(item.Logprobs).Content : null,
        };

        private ResponseItemDto Item(OpenItem item)
        {
            var status = item.Done ? "completed" : "in_progress";
            var text = item.Text.ToString();
            return item.Type switch
            {
                "message" => new ResponseItemDto("message", item.Id, status)
                {
                    Role = "assistant",
                    Content = item.Done ? [OutputText(text, item)] : [],
                },
                "reasoning" => new ResponseItemDto("reasoning", item.Id, status)
                {
                    Summary = [],
                    Content = [new ResponseContentDto("reasoning_text", text)],
                },
                _ => new ResponseItemDto("function_call", item.Id, status)
                {
                    CallId = item.CallId,
                    Name = item.Name,
                    Arguments = text,
                },
            };
        }
    }

    private sealed class OpenItem(string type, string id, int outputIndex, string? callId, string? name)
    {
        public string Type { get; } = type;
        public string Id { get; } = id;
        public int OutputIndex { get; } = outputIndex;
        public string? CallId { get; } = callId;
        public string? Name { get; } = name;
        public StringBuilder Text { get; } = new();
        public List<TokenLogprob> Logprobs { get; } = [];
        public bool Done { get; set; }
    }
}

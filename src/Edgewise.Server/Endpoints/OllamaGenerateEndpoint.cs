using System.Diagnostics;
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

public static class OllamaGenerateEndpoint
{
    /// <summary><c>POST /api/generate</c>: one prompt (templated as a user turn, or raw with <c>"raw": true</c>); NDJSON unless <c>"stream": false</c>.</summary>
    public static IEndpointRouteBuilder MapOllamaGenerate(this IEndpointRouteBuilder app)
    {
        app.MapPost("/api/generate", HandleAsync);
        return app;
    }

    private static async Task HandleAsync(HttpContext http)
    {
        var clock = Stopwatch.StartNew();
        var state = http.RequestServices.GetRequiredService<ServerState>();
        var dto = await JsonBody.ReadAsync(http, ServerJsonContext.Default.OllamaGenerateRequestDto);
        var model = RequestValidation.ResolveModel(state.Backend, dto.Model);
        var types = ServerJsonContext.Default.OllamaGenerateResponseDto;
        if (string.IsNullOrEmpty(dto.Prompt) && dto.Images is null or { Count: 0 })
        {
            Generation.EnsureReady(state.Backend);
            var load = new OllamaGenerateResponseDto(model.Id, Ollama.Now(), "", true) { DoneReason = "load" };
            await http.Response.WriteAsJsonAsync(load, types, contentType: null, http.RequestAborted);
            return;
        }

        var request = OllamaRequestMapper.Generate(dto, model);
        await using var generation = await Generation.StartAsync(state, request, http);
        if (dto.Stream == false)
        {
            var result = await GenerationResult.CollectAsync(generation, 1);
            var choice = result.Choices[0];
            var whole = new OllamaGenerateResponseDto(model.Id, Ollama.Now(), choice.Text.ToString(), true)
            {
                Thinking = choice.Reasoning.Length > 0 ? choice.Reasoning.ToString() : null,
                Logprobs = Ollama.Logprobs(request, choice.Logprobs),
            };
            await http.Response.WriteAsJsonAsync(Ollama.Final(whole, choice.Finish, result.Usage, clock), types, contentType: null, http.RequestAborted);
            return;
        }

        var writer = EventStreamWriter.StartNdjson(http);
        FinishReason? finish = null;
        try
        {
            await foreach (var e in generation.ReadAllAsync())
            {
                var chunk = e switch
                {
                    TextDeltaEvent text => new OllamaGenerateResponseDto(model.Id, Ollama.Now(), text.Text, false) { Logprobs = Ollama.Logprobs(request, text.Logprobs) },
                    ReasoningDeltaEvent reasoning => new OllamaGenerateResponseDto(model.Id, Ollama.Now(), "", false) { Thinking = reasoning.Text },
                    UsageEvent usage => Ollama.Final(new OllamaGenerateResponseDto(model.Id, Ollama.Now(), "", true), finish, usage.Usage, clock),
                    _ => null,
                };
                if (e is FinishedEvent finished)
                    finish = finished.Reason;
                if (chunk is not null)
                    await writer.WriteAsync(chunk, types);
            }
        }
        catch (Exception ex) when (!http.RequestAborted.IsCancellationRequested)
        {
            await writer.WriteAsync(new OllamaErrorDto(ErrorHandlingMiddleware.ToApiException(ex).Message), ServerJsonContext.Default.OllamaErrorDto);
        }
    }
}

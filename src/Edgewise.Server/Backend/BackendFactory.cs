namespace Edgewise.Server.Backend;

/// <summary>Engine settings the CLI passes through to whatever backend it constructs.</summary>
/// <param name="ContextLength">Context per session in tokens; null: the model's own.</param>
/// <param name="Threads">Worker threads for the matrix kernels; null: one per core.</param>
/// <param name="Parallel">Sessions decoding together (their steps batched into one pass).</param>
public sealed record BackendOptions(int? ContextLength = null, int? Threads = null, int Parallel = 1);

/// <summary>
/// Where <c>edgewise serve</c> gets its backend. The engine adapter registers a constructor once at
/// startup; the server itself never names an engine type, so the HTTP layer builds and tests without one.
/// </summary>
public static class BackendFactory
{
    private static Func<string, BackendOptions, IChatBackend>? s_create;

    /// <summary>Installs the engine adapter: <c>(modelFileOrId, options) → backend</c>. The backend may finish loading in the background, reporting <see cref="BackendState.Loading"/> meanwhile.</summary>
    public static void Register(Func<string, BackendOptions, IChatBackend> create) => s_create = create;

    public static bool IsRegistered => s_create is not null;

    public static IChatBackend Create(string modelReference, BackendOptions options)
    {
        var create = s_create ?? throw new InvalidOperationException(
            "No inference engine adapter is registered with Edgewise.Server.Backend.BackendFactory, so 'serve' " +
            $"cannot load '{modelReference}'. The engine registers one with BackendFactory.Register at startup.");
        return create(modelReference, options);
    }
}

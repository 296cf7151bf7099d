using Microsoft.Extensions.Configuration;

namespace Kai.Hub.Settings;

/// <summary>
/// The configuration layer of the settings changed at run time through <c>/api/v1/config</c>. It is added last, so an
/// override wins over <c>appsettings.json</c>, environment variables and the command line; removing the override brings
/// their value back. <see cref="RuntimeSettings"/> fills it from the store at start and after every change.
/// </summary>
internal sealed class RuntimeSettingsSource : IConfigurationSource
{
    public RuntimeSettingsProvider Provider { get; } = new();

    public IConfigurationProvider Build(IConfigurationBuilder builder) => Provider;
}

/// <inheritdoc cref="RuntimeSettingsSource"/>
internal sealed class RuntimeSettingsProvider : ConfigurationProvider
{
    /// <summary>Replaces every override at once and signals the change, so <c>IOptionsMonitor</c> consumers see the new values.</summary>
    public void Replace(IReadOnlyDictionary<string, string> overrides)
    {
        Data = new Dictionary<string, string?>(overrides.Select(kv => KeyValuePair.Create(kv.Key, (string?)kv.Value)), StringComparer.OrdinalIgnoreCase);
        OnReload();
    }
}

/// <summary>
/// A read-only view of a configuration's providers without the runtime layer, with candidate overrides on top: what the
/// configuration would be after a change, so the change is validated before it is stored.
/// </summary>
internal static class CandidateConfiguration
{
    public static IConfiguration Build(IConfigurationRoot root, RuntimeSettingsProvider runtime, IReadOnlyDictionary<string, string> overrides)
    {
        var providers = root.Providers.Where(p => !ReferenceEquals(p, runtime)).ToList();
        var builder = new ConfigurationBuilder();
        builder.Add(new BaseLayerSource(providers));
        builder.AddInMemoryCollection(overrides.Select(kv => KeyValuePair.Create(kv.Key, (string?)kv.Value)));
        return builder.Build();
    }

    private sealed class BaseLayerSource(IReadOnlyList<IConfigurationProvider> providers) : IConfigurationSource
    {
        public IConfigurationProvider Build(IConfigurationBuilder builder) => new BaseLayer(providers);
    }

    // Delegates to the live providers instead of reloading them: a file provider loaded twice would watch its file twice.
    private sealed class BaseLayer(IReadOnlyList<IConfigurationProvider> providers) : ConfigurationProvider
    {
        public override void Load()
        {
        }

        public override bool TryGet(string key, out string? value)
        {
            for (var i = providers.Count - 1; i >= 0; i--)
            {
                if (providers[i].TryGet(key, out value))
                {
                    return true;
                }
            }
            value = null;
            return false;
        }

        public override IEnumerable<string> GetChildKeys(IEnumerable<string> earlierKeys, string? parentPath) =>
            providers.Aggregate(earlierKeys, (keys, p) => p.GetChildKeys(keys, parentPath));
    }
}

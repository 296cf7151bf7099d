using System.Text.Json;
using Kai.Hub.Auth;
using Kai.Hub.Errors;
using Kai.Hub.Housekeeping;
using Kai.Hub.Security;
using Kai.Protocol;
using Kai.Protocol.Rest;

namespace Kai.Hub.Settings;

/// <summary>
/// Seed 000's config router: the settings that may change while the hub runs (<see cref="IRuntimeSection"/>), changed by
/// admins, validated like start-up options before they are stored, audited, kept across restarts, and applied through the
/// configuration layer <see cref="RuntimeSettingsSource"/>, so every consumer that reads <c>IOptionsMonitor.CurrentValue</c>
/// sees them at once. Other nodes pick a change up at their next housekeeping sweep (the store's revision moved).
/// </summary>
internal sealed class RuntimeSettings(
    IConfiguration configuration, RuntimeSettingsSource source, ISettingsStore store, IEnumerable<IRuntimeSection> sections,
    IServiceProvider services, AuditLog audit, TimeProvider time) : IHousekeeping
{
    private readonly IReadOnlyList<IRuntimeSection> _sections = [.. sections];
    private readonly SemaphoreSlim _writer = new(1, 1);
    private IReadOnlyList<SettingRow> _rows = [];
    private long _revision = -1;

    /// <summary>Loads the stored overrides into the configuration (at start, before the options are validated).</summary>
    public async Task LoadAsync(CancellationToken ct)
    {
        var revision = await store.RevisionAsync(ct);
        var rows = await store.ListAsync(ct);
        Apply(rows, revision);
    }

    public async Task<ConfigResponse> GetAsync(CancellationToken ct)
    {
        var revision = await store.RevisionAsync(ct);
        if (revision != _revision)
        {
            await LoadAsync(ct);
        }
        return new ConfigResponse(_sections.Select(Describe).ToList(), _revision);
    }

    public ConfigSection Get(string section) => Describe(Find(section));

    /// <summary>
    /// Changes settings of one group: a value sets an override, null removes one (the file's or default value is back).
    /// Nothing is stored unless the whole group validates.
    /// </summary>
    /// <exception cref="ApiException">NOT_FOUND for an unknown group; VALIDATION_ERROR naming every refused key.</exception>
    public async Task<ConfigSection> ChangeAsync(HttpContext http, string sectionName, JsonElement body, CancellationToken ct)
    {
        var section = Find(sectionName);
        var errors = new List<string>();
        var changes = section.Flatten(body, errors);
        if (errors.Count == 0 && changes.Count == 0)
        {
            errors.Add($"{section.Name}: no settings given.");
        }
        Refuse(errors);
        return await WriteAsync(http, section, changes, ct);
    }

    /// <summary>Removes every override of one group.</summary>
    public Task<ConfigSection> ResetAsync(HttpContext http, string sectionName, CancellationToken ct)
    {
        var section = Find(sectionName);
        return WriteAsync(http, section, new Dictionary<string, string?> { [section.Path] = null }, ct);
    }

    private async Task<ConfigSection> WriteAsync(HttpContext http, IRuntimeSection section, Dictionary<string, string?> changes, CancellationToken ct)
    {
        var principal = KaiPrincipal.From(http.User) ?? throw new ApiException(ErrorCodes.AuthenticationFailed, "Sign in first.");
        await _writer.WaitAsync(ct);
        try
        {
            await LoadAsync(ct);
            var candidate = Merge(_rows.ToDictionary(r => r.Key, r => r.Value, StringComparer.OrdinalIgnoreCase), changes);
            var errors = new List<string>();
            section.Validate(CandidateConfiguration.Build(Root, source.Provider, candidate), services, errors);
            Refuse(errors);
            var before = section.Describe(configuration);
            await store.ApplyAsync(changes, principal.Id, time.GetUtcNow(), ct);
            await LoadAsync(ct);
            await audit.WriteAsync(http, AuditActions.ConfigChanged, section.Name, AuditOutcomes.Success, new
            {
                section = section.Name,
                keys = changes.Keys.Order(StringComparer.Ordinal).ToList(),
                before,
                after = section.Describe(configuration),
            });
            return Describe(section);
        }
        finally
        {
            _writer.Release();
        }
    }

    /// <summary>Picks up a change made on another node.</summary>
    public async Task SweepAsync(CancellationToken ct)
    {
        if (await store.RevisionAsync(ct) != _revision)
        {
            await LoadAsync(ct);
        }
    }

    private IConfigurationRoot Root => configuration as IConfigurationRoot
        ?? throw new InvalidOperationException("Runtime settings need the application's configuration root.");

    private void Apply(IReadOnlyList<SettingRow> rows, long revision)
    {
        _rows = rows;
        _revision = revision;
        source.Provider.Replace(rows.ToDictionary(r => r.Key, r => r.Value, StringComparer.OrdinalIgnoreCase));
    }

    private static Dictionary<string, string> Merge(Dictionary<string, string> current, Dictionary<string, string?> changes)
    {
        foreach (var (key, value) in changes)
        {
            if (value is null)
            {
                foreach (var k in current.Keys.Where(k => Under(k, key)).ToList())
                {
                    current.Remove(k);
                }
            }
            else
            {
                current[key] = value;
            }
        }
        return current;
    }

    private static bool Under(string key, string prefix) =>
        key.Equals(prefix, StringComparison.OrdinalIgnoreCase) || key.StartsWith(prefix + ":", StringComparison.OrdinalIgnoreCase);

    private ConfigSection Describe(IRuntimeSection section) =>
        new(section.Name, section.Path, section.Describe(configuration),
            _rows.Where(r => Under(r.Key, section.Path)).Select(r => new ConfigOverride(r.Key, r.Value, r.UpdatedAt, r.UpdatedBy)).ToList());

    private IRuntimeSection Find(string name) =>
        _sections.FirstOrDefault(s => string.Equals(s.Name, name, StringComparison.OrdinalIgnoreCase))
        ?? throw new ApiException(ErrorCodes.NotFound, $"No settings group '{name}'; these can change at run time: {string.Join(", ", _sections.Select(s => s.Name))}.");

    private static void Refuse(List<string> errors)
    {
        if (errors.Count > 0)
        {
            throw new ApiException(ErrorCodes.ValidationError, "The settings were not changed: " + string.Join(" ", errors),
                new Dictionary<string, object> { ["errors"] = errors });
        }
    }
}

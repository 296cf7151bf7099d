using System.Collections.Concurrent;
using Microsoft.Extensions.Options;

namespace Kai.Hub.Security;

/// <summary>
/// Exponential back-off after failed logins, per account (the email as typed, lower-cased, whether or not it exists, so the lock-out
/// does not reveal accounts) and per client IP. After <see cref="SecurityOptions.LoginFailuresBeforeLockout"/> failures a key is locked for
/// <see cref="SecurityOptions.LoginLockout"/>, doubling with each further failure up to <see cref="SecurityOptions.LoginLockoutMax"/>.
/// A success clears the account's count. In memory on this node: a multi-node deployment shares it through the store later.
/// </summary>
internal sealed class LoginThrottle(IOptions<SecurityOptions> options, TimeProvider time)
{
    private readonly SecurityOptions _o = options.Value;
    private readonly ConcurrentDictionary<string, Entry> _entries = new(StringComparer.Ordinal);

    /// <summary>How long the caller must still wait, or null when it may try.</summary>
    public TimeSpan? LockedFor(string email, string? ip)
    {
        var now = time.GetUtcNow();
        var wait = Max(Wait("e:" + email, now), ip is null ? null : Wait("ip:" + ip, now));
        return wait;
    }

    public void Failed(string email, string? ip)
    {
        var now = time.GetUtcNow();
        Bump("e:" + email, now);
        if (ip is not null)
        {
            // An IP gets more room than an account: many people can share one address (NAT).
            Bump("ip:" + ip, now, factor: 4);
        }
        if (_entries.Count > 100_000)
        {
            foreach (var (k, e) in _entries)
            {
                if (e.LockedUntil < now - _o.LoginLockoutMax)
                {
                    _entries.TryRemove(k, out _);
                }
            }
        }
    }

    public void Succeeded(string email) => _entries.TryRemove("e:" + email, out _);

    private TimeSpan? Wait(string key, DateTimeOffset now) =>
        _entries.TryGetValue(key, out var e) && e.LockedUntil > now ? e.LockedUntil - now : null;

    private void Bump(string key, DateTimeOffset now, int factor = 1) => _entries.AddOrUpdate(key,
        _ => Next(new Entry(0, DateTimeOffset.MinValue), now, factor),
        (_, e) => Next(e, now, factor));

    private Entry Next(Entry e, DateTimeOffset now, int factor)
    {
        var failures = e.Failures + 1;
        var over = failures - (_o.LoginFailuresBeforeLockout * factor);
        if (over < 0)
        {
            return e with { Failures = failures };
        }
        var lockout = TimeSpan.FromTicks(Math.Min(_o.LoginLockoutMax.Ticks, _o.LoginLockout.Ticks * (1L << Math.Min(over, 20))));
        return new Entry(failures, now + lockout);
    }

    private static TimeSpan? Max(TimeSpan? a, TimeSpan? b) => a is null ? b : b is null ? a : a > b ? a : b;

    private sealed record Entry(int Failures, DateTimeOffset LockedUntil);
}

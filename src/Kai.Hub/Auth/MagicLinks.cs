using System.Net;
using System.Net.Mail;
using Kai.Hub.Errors;
using Kai.Hub.Security;
using Kai.Hub.Storage;
using Kai.Protocol;
using Kai.Protocol.Rest;
using Microsoft.Extensions.Options;

namespace Kai.Hub.Auth;

/// <summary>
/// Magic-link sign-in (seed 000): a random 256-bit token, stored as its SHA-256 hash, valid for 10 minutes and once. The request answers
/// the same whether or not the account exists, and at most <see cref="SecurityOptions.MagicLinksPerEmailPerHour"/> mails go to one
/// address per hour (beyond that the answer is the same and nothing is sent). The token is opaque, not a JWT, so it can never pass as
/// an access token.
/// </summary>
internal sealed partial class MagicLinks(
    IAuthStore store, AuthService auth, MailSender mail, AuditLog audit, IOptions<SecurityOptions> options, TimeProvider time, ILogger<MagicLinks> logger)
{
    private readonly SecurityOptions _o = options.Value;
    private readonly KeyedLimiter _perEmail = new(options.Value.MagicLinksPerEmailPerHour, TimeSpan.FromHours(1), time);

    public async Task RequestAsync(HttpContext http, string? email, CancellationToken ct)
    {
        new Validation().Length(email, "email", 3, 254).ThrowIfInvalid();
        var normalized = email!.Trim().ToLowerInvariant();
        var user = await store.GetUserByEmailAsync(normalized, ct);
        // The limiter is taken for unknown addresses too, so timing and counting look the same either way.
        var allowed = _perEmail.TryTake(normalized, out _);
        if (user is null || user.Disabled || !allowed)
        {
            await audit.WriteAsync(null, null, AuditActions.MagicLinkRequested, normalized, AuditOutcomes.Denied, http.Connection.RemoteIpAddress?.ToString(),
                new { reason = user is null ? "unknown_account" : user.Disabled ? "disabled" : "rate_limited" });
            return;
        }
        var token = "kml_" + TokenService.NewId(32);
        var now = time.GetUtcNow();
        await store.CreateMagicLinkAsync(new MagicLinkRecord(TokenService.HashSecret(token), normalized, user.UserId, now, now + _o.MagicLinkLifetime, null), ct);
        var link = _o.MagicLinkUrl is null ? null : $"{_o.MagicLinkUrl}{(_o.MagicLinkUrl.Contains('?', StringComparison.Ordinal) ? '&' : '?')}magic_token={Uri.EscapeDataString(token)}";
        var body = $"""
            Sign in to Kai Hub.

            {(link is null ? "Magic token: " + token : "Open: " + link)}

            It works once and expires in {(int)_o.MagicLinkLifetime.TotalMinutes} minutes. If you did not ask for it, ignore this mail.
            """;
        await mail.SendAsync(normalized, "Your Kai Hub sign-in link", body, ct);
        await audit.WriteAsync(user.UserId, user.Role, AuditActions.MagicLinkRequested, normalized, AuditOutcomes.Success, http.Connection.RemoteIpAddress?.ToString(), null);
    }

    public async Task<TokenResponse> VerifyAsync(HttpContext http, string? magicToken, CancellationToken ct)
    {
        new Validation().Length(magicToken, "magic_token", 1, 256).ThrowIfInvalid();
        var link = await store.TryConsumeMagicLinkAsync(TokenService.HashSecret(magicToken!), time.GetUtcNow(), ct);
        var user = link is null ? null : await store.GetUserAsync(link.UserId, ct);
        if (link is null || user is null || user.Disabled)
        {
            await audit.WriteAsync(null, null, AuditActions.MagicLinkRejected, null, AuditOutcomes.Failure, http.Connection.RemoteIpAddress?.ToString(), null);
            Log.Rejected(logger);
            throw new ApiException(ErrorCodes.AuthenticationFailed, "The magic link is invalid, expired or already used.");
        }
        await audit.WriteAsync(user.UserId, user.Role, AuditActions.MagicLinkUsed, user.UserId, AuditOutcomes.Success, http.Connection.RemoteIpAddress?.ToString(), null);
        return await auth.StartSessionAsync(user, ct);
    }

    private static partial class Log
    {
        [LoggerMessage(110, LogLevel.Warning, "Magic link rejected (unknown, used or expired)")]
        public static partial void Rejected(ILogger logger);
    }
}

/// <summary>Sends mail through SMTP when <see cref="SecurityOptions.SmtpHost"/> is set; otherwise writes it to <c>{DataDirectory}/outbox/</c>.</summary>
internal sealed partial class MailSender(IOptions<SecurityOptions> security, IOptions<HubOptions> hub, TimeProvider time, ILogger<MailSender> logger)
{
    private readonly SecurityOptions _o = security.Value;

    public string OutboxDirectory => Path.Combine(Path.GetFullPath(hub.Value.DataDirectory), "outbox");

    public async Task SendAsync(string to, string subject, string body, CancellationToken ct)
    {
        if (!string.IsNullOrWhiteSpace(_o.SmtpHost))
        {
            using var client = new SmtpClient(_o.SmtpHost, _o.SmtpPort) { EnableSsl = _o.SmtpSsl };
            if (!string.IsNullOrEmpty(_o.SmtpUser))
            {
                client.Credentials = new NetworkCredential(_o.SmtpUser, _o.SmtpPassword);
            }
            using var message = new MailMessage(_o.MailFrom, to, subject, body);
            await client.SendMailAsync(message, ct);
            return;
        }
        Directory.CreateDirectory(OutboxDirectory);
        var path = Path.Combine(OutboxDirectory, $"{time.GetUtcNow():yyyyMMddTHHmmssfff}-{Guid.NewGuid():N}.eml");
        await File.WriteAllTextAsync(path, $"From: {_o.MailFrom}\r\nTo: {to}\r\nSubject: {subject}\r\n\r\n{body}\r\n", ct);
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }
        Log.WroteOutbox(logger, path);
    }

    private static partial class Log
    {
        [LoggerMessage(120, LogLevel.Information, "No SMTP host configured; mail written to {Path}")]
        public static partial void WroteOutbox(ILogger logger, string path);
    }
}

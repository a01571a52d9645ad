"""Every text of the citizen's pages and the counter page, in Chinese (the default) and English.

One table, so a missing translation is a test failure rather than a half-English page: each
key maps to ``(zh, en)``; ``{name}`` fields are filled by ``text()``.
"""

from __future__ import annotations

LANGS = ("zh", "en")
DEFAULT_LANG = "zh"

TEXT: dict[str, tuple[str, str]] = {
    # -- frame --------------------------------------------------------------------------------
    "app_name": ("我的照片", "My photos"),
    "switch_lang": ("English", "中文"),
    "logout": ("退出", "Log out"),
    "footer": ("照片只在您同意后提供给办证机构，每次使用都有记录，无法篡改。",
               "An agency receives a photo only with your consent; every use is recorded and cannot be altered."),
    "back_to_me": ("返回我的照片", "Back to My photos"),
    # -- login --------------------------------------------------------------------------------
    "login_title": ("登录“我的照片”", "Log in to My photos"),
    "login_intro": ("查看、下载和管理您在采集点拍摄的证件照片，并决定哪些机构可以使用。",
                    "See, download and manage the ID photos taken at a photo point, and decide which agencies "
                    "may use them."),
    "code_label": ("取件码", "Pickup code"),
    "code_hint": ("回执上的 10 位码，如 7K3QD-9XM2B", "The 10-character code on your receipt, e.g. 7K3QD-9XM2B"),
    "last6_label": ("身份证号后六位", "Last six characters of your ID number"),
    "last6_hint": ("末位是 X 的请输入 X", "Type X if your number ends in X"),
    "login_submit": ("登录", "Log in"),
    "or": ("或", "or"),
    "oidc_button": ("使用省政务服务账号登录", "Log in with the provincial government account"),
    "err_unauthorized": ("取件码或身份证号后六位不正确。", "The pickup code or the last six characters are wrong."),
    "err_locked": ("此取件码因多次输入错误已被锁定，请到办理窗口重新获取。",
                   "This pickup code is locked after repeated failures; ask the counter for a new one."),
    "err_rate_limited": ("尝试次数过多，请 15 分钟后再试。", "Too many attempts; please try again in 15 minutes."),
    "err_malformed": ("请填写取件码和身份证号后六位。", "Please enter the pickup code and the last six characters."),
    "err_oidc": ("统一身份认证登录未完成，请重试。",
                 "The government account login did not complete; please try again."),
    "err_oidc_unavailable": ("统一身份认证服务暂时无法使用，请改用取件码登录。",
                             "The government account login is unavailable; please use your pickup code."),
    "err_session": ("登录已过期，请重新登录。", "Your session has ended; please log in again."),
    # -- overview -----------------------------------------------------------------------------
    "pending_title": ("待您确认的申请", "Requests awaiting your decision"),
    "request_line": ("{agency}申请使用您的照片办理{credential}", "{agency} asks to use your photo for: {credential}"),
    "application_ref": ("业务编号", "Application"),
    "purpose": ("用途", "Purpose"),
    "requested_at": ("申请时间", "Requested"),
    "open_until": ("请在此前确认", "Decide before"),
    "approve": ("同意使用", "Approve"),
    "refuse": ("拒绝", "Refuse"),
    "see_photo": ("查看将提供的照片", "See the photo to be shared"),
    "captures_title": ("我的采集", "My captures"),
    "no_captures": ("您还没有照片。在采集点拍照后，照片会出现在这里。",
                    "You have no photos yet. Photos taken at a photo point appear here."),
    "captured_at": ("拍摄时间", "Taken"),
    "place": ("拍摄地点", "Place"),
    "usable_count": ("可用于 {valid} 种证件（共 {total} 种）", "Usable for {valid} of {total} credentials"),
    "show_credentials": ("查看各证件的照片与有效期", "Photos and validity per credential"),
    "valid": ("可用", "Valid"),
    "expired": ("已过期", "Expired"),
    "valid_until": ("可用至 {date}", "usable until {date}"),
    "expired_on": ("{date} 已过期", "expired on {date}"),
    "download": ("下载", "Download"),
    "download_title": ("下载照片及其签名（zip）", "Download the photo with its signature (zip)"),
    "delete_capture": ("删除这次采集", "Delete this capture"),
    "grants_title": ("机构授权", "Agency permissions"),
    "no_grants": ("目前没有机构可以使用您的照片。", "No agency may use your photos at present."),
    "granted_on": ("授权于 {date}", "allowed on {date}"),
    "grant_until": ("到期 {date}", "until {date}"),
    "revoke": ("撤销授权", "Revoke"),
    "grant_revoked": ("已撤销", "Revoked"),
    "grant_ended": ("已到期", "Ended"),
    "history_title": ("使用记录", "Access history"),
    "history_intro": ("哪个机构在何时、为哪项业务使用了您的照片。",
                      "Which agency used which of your photos, when, and for which application."),
    "history_empty": ("暂无机构使用记录。", "No agency has used your photos yet."),
    "history_all": ("全部记录（含您自己的查看与下载）", "Full log (including your own views and downloads)"),
    "done_approved": ("已同意。{agency}现在可以取用这张照片。", "Approved: {agency} may now take this photo."),
    "done_refused": ("已拒绝，机构不会得到您的照片。", "Refused: the agency will not receive your photo."),
    "done_revoked": ("已撤销授权，机构不能再取用这张照片。", "Revoked: the agency can no longer take this photo."),
    "done_deleted": ("已删除。这次采集的照片已无法读取。",
                     "Deleted: the photos of that capture can no longer be read."),
    "done_logged_out": ("您已退出。", "You are logged out."),
    # -- history rows ---------------------------------------------------------------------------
    "act_ingest": ("采集点 {station} 存入照片", "Photo point {station} stored your photos"),
    "act_view": ("您查看了{credential}照片", "You viewed your {credential} photo"),
    "act_download": ("您下载了{credential}照片", "You downloaded your {credential} photo"),
    "act_request": ("{agency}申请使用{credential}照片", "{agency} asked to use your {credential} photo"),
    "act_approve": ("您同意{agency}使用{credential}照片", "You allowed {agency} to use your {credential} photo"),
    "act_refuse": ("您拒绝了{agency}的申请（{credential}）", "You refused {agency}'s request ({credential})"),
    "act_pull": ("{agency}取用了{credential}照片", "{agency} took your {credential} photo"),
    "act_revoke": ("您撤销了{agency}的授权（{credential}）", "You revoked {agency}'s access ({credential})"),
    "act_delete": ("您删除了一次采集", "You deleted a capture"),
    "act_purge": ("一次采集到期，已被清除", "A capture expired and was purged"),
    "act_login": ("您登录了", "You logged in"),
    "act_other": ("{action}", "{action}"),
    "for_application": ("业务编号 {ref}", "application {ref}"),
    # -- one request ----------------------------------------------------------------------------
    "request_title": ("照片使用申请", "Photo reuse request"),
    "photo_to_share": ("将提供的照片", "The photo that would be shared"),
    "photo_taken": ("拍摄于 {date}，可用至 {until}", "taken on {date}, usable until {until}"),
    "no_valid_photo": ("您没有仍可用于此证件的照片，只能拒绝；请到采集点重新拍照。",
                       "You have no photo that may still be used for this credential; refuse, and have a new "
                       "photo taken at a photo point."),
    "status": ("状态", "Status"),
    "status_pending": ("待确认", "Awaiting your decision"),
    "status_approved": ("已同意", "Approved"),
    "status_refused": ("已拒绝", "Refused"),
    "status_expired": ("已过期", "Expired"),
    "consent_note": ("同意后，该机构只能取用这一种证件的照片，期限最长 {days} 天；您可随时撤销。",
                     "If you approve, this agency may take only this credential's photo, for {days} days at most; "
                     "you can revoke it at any time."),
    "err_conflict": ("此申请已处理或已过期，无法再更改。", "This request has already been decided or has expired."),
    # -- delete ----------------------------------------------------------------------------------
    "delete_title": ("删除这次采集？", "Delete this capture?"),
    "delete_warning": ("删除后，这次采集的全部照片立即无法读取，已授权的机构也不能再取用。此操作无法撤销。",
                       "All photos of this capture become unreadable at once, and no agency can take them any "
                       "more. This cannot be undone."),
    "delete_confirm": ("确认删除", "Delete for good"),
    "cancel": ("取消", "Cancel"),
    # -- errors ----------------------------------------------------------------------------------
    "nf_title": ("未找到", "Not found"),
    "nf_body": ("此照片、申请或授权不存在，或已不再可用。", "This photo, request or grant does not exist, or is "
                                                             "no longer available."),
    "csrf_title": ("页面已过期", "This page has expired"),
    "csrf_body": ("为保护您的账户，此操作未执行。请返回、刷新页面后重试。",
                  "To protect your account this was not done. Go back, reload the page and try again."),
    "error_title": ("出错了", "Something went wrong"),
    "error_body": ("请求未能完成，请稍后再试。", "The request could not be completed; please try again later."),
    "error_code": ("错误代码", "Error code"),
    # -- the counter -----------------------------------------------------------------------------
    "counter_title": ("扫码确认使用照片", "Scan to approve your photo"),
    "counter_intro": ("请用手机扫描二维码，登录“我的照片”，查看并确认将照片用于：",
                      "Scan the code with your phone, log in to My photos, and approve using your photo for:"),
    "counter_waiting": ("等待申请人确认……", "Waiting for the applicant…"),
    "counter_approved": ("申请人已同意，可以继续办理。", "The applicant approved: go on with the application."),
    "counter_refused": ("申请人拒绝使用库中照片，请现场拍照。",
                        "The applicant refused: take a new photo at the counter."),
    "counter_expired": ("此申请已过期，请重新发起。", "This request has expired; make a new one."),
}


def text(key: str, lang: str, **fields) -> str:
    """The text for ``key`` in ``lang`` (Chinese when the language is unknown)."""
    zh, en = TEXT[key]
    template = en if lang == "en" else zh
    return template.format(**fields) if fields else template


def pick_lang(query: str | None, cookie: str | None) -> str:
    """The page language: the query's ``lang`` first, then the remembered cookie, then Chinese."""
    for candidate in (query, cookie):
        if candidate in LANGS:
            return candidate
    return DEFAULT_LANG

// The reviewer console is usable at phone width and by keyboard alone, in real headless Chromium
// (Debian's, driven by playwright-core): at 390×844 the inbox, a review and the sessions page do
// not scroll sideways and their controls are finger-sized; a DBA reaches a review and approves it
// with a comment using only Tab, typing and Enter (the approval lands in the API) while the focused
// element shows a focus ring; every control has an accessible name as Chromium's accessibility
// tree computes it; text meets WCAG AA contrast (4.5:1). WARDEN_CONSOLE_SCREENSHOTS=<dir> saves
// the phone screenshot of a review (docs/console-phone.png) there.
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { type Browser, chromium, type Page } from 'playwright-core';
import { startShopPostgres, startTestGateway, TEST_ACCESS, type TestGateway } from '../../helpers/gateway.js';
import type { TestPostgres } from '../../helpers/postgres.js';
import { api, connect, expectReview } from '../postgres-approvals/helpers.js';

const POLICY = `${TEST_ACCESS}rules:
  - name: deletes-need-review
    groups: [agents]
    when: op.kind == 'sql' && op.sql.kinds.exists(k, k == 'delete')
    action: review
    approvers: { groups: [dba], count: 1 }
    message: deletes need a DBA
`;
const SHOTS = process.env.WARDEN_CONSOLE_SCREENSHOTS;
const PHONE = { width: 390, height: 844 };
/** WCAG 2.5.5 asks 44 px; 40 px is the floor the issue names (Material's 48 dp, Apple's 44 pt). */
const MIN_TARGET = 40;

/**
 * The page-side checks below run in Chromium; the project's tsconfig has no DOM lib (it is Node
 * code), so they see the DOM through these few declarations of what they use.
 */
type DomElement = {
  tagName: string;
  className: string;
  textContent: string | null;
  childNodes: Iterable<{ nodeType: number; textContent: string | null }>;
  parentElement: DomElement | null;
  offsetParent: unknown;
  getBoundingClientRect(): { right: number; width: number; height: number };
  getAttribute(name: string): string | null;
  matches(selector: string): boolean;
};
declare const document: {
  documentElement: { scrollWidth: number };
  activeElement: DomElement; // body when nothing else has focus
  querySelectorAll(selector: string): Iterable<DomElement>;
};
declare const window: { innerWidth: number };
declare const Node: { TEXT_NODE: number };
declare function getComputedStyle(el: DomElement): {
  color: string;
  backgroundColor: string;
  outlineStyle: string;
  outlineWidth: string;
  boxShadow: string;
};

type Review = { id: string; state: string; approvals: { sub: string; reason?: string }[] };

/** Page-side checks, evaluated in the browser (plain functions: no closures over test scope). */
function overflowOf(): { scrollWidth: number; innerWidth: number; widest: string } {
  // The element reaching furthest right names the culprit when the page scrolls sideways.
  let widest = '';
  let right = 0;
  for (const el of document.querySelectorAll('body *')) {
    const r = el.getBoundingClientRect();
    if (r.right > right) {
      right = r.right;
      widest = `${el.tagName.toLowerCase()}.${el.className} (${Math.round(r.right)}px)`;
    }
  }
  return { scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth, widest };
}

function smallTargets(min: number): string[] {
  const out: string[] = [];
  for (const el of document.querySelectorAll('button, select, input, textarea, header a')) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) continue; // not rendered
    if (r.width < min || r.height < min)
      out.push(
        `${el.tagName.toLowerCase()} "${el.textContent?.trim() || el.getAttribute('aria-label') || ''}" ${Math.round(r.width)}×${Math.round(r.height)}`,
      );
  }
  return out;
}

/** WCAG 2.x contrast of every element that holds visible text, against its nearest opaque background. */
function lowContrast(min: number): { bad: string[]; checked: number } {
  const rgb = (s: string) => {
    const m = /rgba?\(([\d.]+),\s*([\d.]+),\s*([\d.]+)(?:,\s*([\d.]+))?\)/.exec(s);
    return m ? { c: [Number(m[1]), Number(m[2]), Number(m[3])], a: m[4] === undefined ? 1 : Number(m[4]) } : null;
  };
  const lum = (c: number[]) => {
    const [r, g, b] = c.map((v) => {
      const s = v / 255;
      return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r! + 0.7152 * g! + 0.0722 * b!;
  };
  const background = (el: DomElement | null): number[] => {
    for (let e = el; e; e = e.parentElement) {
      const bg = rgb(getComputedStyle(e).backgroundColor);
      if (bg && bg.a > 0.5) return bg.c;
    }
    return [255, 255, 255];
  };
  const bad: string[] = [];
  let checked = 0;
  for (const el of document.querySelectorAll('body *')) {
    const own = [...el.childNodes].some((n) => n.nodeType === Node.TEXT_NODE && n.textContent?.trim());
    if (!own || el.offsetParent === null) continue;
    const style = getComputedStyle(el);
    const fg = rgb(style.color);
    if (!fg) continue;
    const [a, b] = [lum(fg.c), lum(background(el))];
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    checked++;
    if (ratio < min)
      bad.push(
        `${el.tagName.toLowerCase()}.${el.className} "${el.textContent?.trim().slice(0, 30)}" ${ratio.toFixed(2)}:1 (${style.color} on ${background(el)})`,
      );
  }
  return { bad, checked };
}

describe('reviewer console: phone width, keyboard, names, contrast', () => {
  let target: TestPostgres;
  let gw: TestGateway;
  let browser: Browser;
  let direct: pg.Client;
  let reviewId = '';

  before(async () => {
    target = await startShopPostgres();
    gw = await startTestGateway(target, { policy: POLICY });
    direct = new pg.Client({
      host: '127.0.0.1',
      port: target.port,
      database: target.database,
      user: target.user,
      password: target.password,
    });
    await direct.connect();
    await direct.query("UPDATE orders SET status = 'stale' WHERE id % 7 = 0");
    const agent = await connect(gw, await gw.token('agent-a11y', ['agents']));
    await agent.query('SELECT id, amount FROM orders ORDER BY id LIMIT 2');
    reviewId = await expectReview(
      agent,
      "DELETE FROM orders WHERE status = 'stale' AND status IS DISTINCT FROM 'a_rather_long_unbroken_condition_that_must_wrap_on_a_phone_screen'",
    );
    await agent.end(); // an ended session, for the sessions page
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update'],
    });
  });
  after(async () => {
    await browser?.close();
    await direct?.end();
    await gw?.stop();
    await target?.stop();
  });

  /** A context at this viewport (a touch phone at PHONE). tsx names inner functions with __name: the page needs it too. */
  async function phoneOr(viewport: { width: number; height: number }) {
    const context = await browser.newContext({ viewport, isMobile: viewport === PHONE, hasTouch: viewport === PHONE });
    await context.addInitScript('window.__name = (f) => f');
    return context;
  }

  async function signedIn(sub: string, groups: string, viewport = PHONE): Promise<Page> {
    const context = await phoneOr(viewport);
    const page = await context.newPage();
    await page.goto(gw.apiUrl);
    await page.getByLabel('Name').fill(sub);
    await page.getByLabel('Groups (comma-separated)').fill(groups);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.getByTestId('who').waitFor();
    return page;
  }

  /** Controls (input, select, textarea, button) Chromium's accessibility tree names, and those it does not. */
  async function unnamedControls(page: Page): Promise<{ named: number; unnamed: string[]; inDom: number }> {
    const cdp = await page.context().newCDPSession(page);
    const { nodes } = (await cdp.send('Accessibility.getFullAXTree')) as {
      nodes: { ignored: boolean; role?: { value: string }; name?: { value: string } }[];
    };
    const controls = nodes.filter(
      (n) =>
        !n.ignored &&
        ['button', 'textbox', 'combobox', 'searchbox', 'checkbox', 'radio', 'spinbutton', 'listbox'].includes(
          n.role?.value ?? '',
        ),
    );
    const inDom = await page.evaluate(
      () =>
        [...document.querySelectorAll('input, select, textarea, button')].filter((e) => e.offsetParent !== null).length,
    );
    await cdp.detach();
    return {
      named: controls.filter((n) => n.name?.value.trim()).length,
      unnamed: controls.filter((n) => !n.name?.value.trim()).map((n) => n.role?.value ?? '?'),
      inDom,
    };
  }

  async function checkPage(page: Page, what: string) {
    const o = await page.evaluate(overflowOf);
    // A phone zooms out to fit a page wider than its screen: then innerWidth grows instead.
    assert.equal(o.innerWidth, page.viewportSize()?.width, `${what}: the layout viewport is the screen`);
    assert.ok(
      o.scrollWidth <= o.innerWidth,
      `${what}: scrolls sideways (${o.scrollWidth} > ${o.innerWidth}); widest: ${o.widest}`,
    );
    assert.deepEqual(await page.evaluate(smallTargets, MIN_TARGET), [], `${what}: touch targets under ${MIN_TARGET}px`);
    const names = await unnamedControls(page);
    assert.deepEqual(names.unnamed, [], `${what}: controls without an accessible name`);
    assert.ok(
      names.named >= names.inDom && names.inDom > 0,
      `${what}: ${names.inDom} controls in the page, ${names.named} named in the tree`,
    );
    const contrast = await page.evaluate(lowContrast, 4.5);
    assert.deepEqual(contrast.bad, [], `${what}: text under 4.5:1`);
    assert.ok(contrast.checked > 5, `${what}: only ${contrast.checked} text elements checked`);
  }

  it('at 390×844 the sign-in, inbox, a review, sessions, access, connections and audit pages fit, with finger-sized, named, legible controls', async () => {
    const context = await phoneOr(PHONE);
    const signin = await context.newPage();
    await signin.goto(gw.apiUrl);
    await signin.getByLabel('Name').waitFor();
    await checkPage(signin, 'sign-in');
    await context.close();

    const dba = await signedIn('dana', 'dba, admins');
    const link = dba.getByTestId('review-link').filter({ hasText: 'agent-a11y' });
    await link.waitFor({ timeout: 10_000 });
    await checkPage(dba, 'inbox');

    await dba.goto(`${gw.apiUrl}/#/reviews/${reviewId}`);
    await dba.getByRole('button', { name: 'Approve' }).waitFor();
    await checkPage(dba, 'review');
    if (SHOTS) {
      await mkdir(SHOTS, { recursive: true });
      await dba.screenshot({ path: join(SHOTS, 'console-phone.png'), fullPage: true });
    }

    await dba.goto(`${gw.apiUrl}/#/sessions`);
    await dba.getByTestId('sessions').locator('tr', { hasText: 'agent-a11y' }).first().waitFor({ timeout: 10_000 });
    await checkPage(dba, 'sessions');

    // An on-call engineer's access request: its Approve and Deny buttons sit in a stacked row.
    const otto = await gw.token('otto', ['oncall']);
    const asked = await api(gw, otto, 'POST', '/api/v1/access-requests', {
      connection: 'shop',
      duration: '30m',
      reason: 'incident 7',
    });
    assert.equal(asked.status, 201);
    await dba.goto(`${gw.apiUrl}/#/access`);
    await dba
      .getByTestId('access')
      .locator('tr', { hasText: 'incident 7' })
      .getByRole('button', { name: 'Approve' })
      .waitFor();
    await checkPage(dba, 'access requests');

    await dba.goto(`${gw.apiUrl}/#/connections`);
    await dba.getByTestId('connections').locator('tbody tr').first().waitFor();
    await checkPage(dba, 'connections');

    await dba.goto(`${gw.apiUrl}/#/audit`);
    await dba.getByTestId('audit').locator('tbody tr').first().waitFor();
    await checkPage(dba, 'audit');
  });

  it('keyboard only: Tab and Enter reach the review from the inbox and approve it with a comment, with a visible focus ring', async () => {
    const dba = await signedIn('kim', 'dba', { width: 1100, height: 800 });
    await dba.getByTestId('review-link').filter({ hasText: 'agent-a11y' }).waitFor({ timeout: 10_000 });

    /** Tab (at most `limit` times) until the focused element matches `test`; asserts its focus ring. */
    const tabTo = async (what: string, test: (el: DomElement) => boolean, limit = 30) => {
      for (let i = 0; i < limit; i++) {
        await dba.keyboard.press('Tab');
        const here = await dba.evaluateHandle(() => document.activeElement);
        const hit = await here.evaluate(test);
        if (hit) {
          const ring = await here.evaluate((el) => {
            const s = getComputedStyle(el);
            return {
              focusVisible: el.matches(':focus-visible'),
              outline: `${s.outlineStyle} ${s.outlineWidth}`,
              shadow: s.boxShadow,
            };
          });
          assert.ok(ring.focusVisible, `${what}: keyboard focus matches :focus-visible`);
          assert.ok(
            !/^none|\s0px$/.test(ring.outline) || ring.shadow !== 'none',
            `${what}: a focus ring shows (${ring.outline})`,
          );
          return;
        }
      }
      assert.fail(`${what}: not reached in ${limit} Tabs`);
    };

    await tabTo(
      'the review in the inbox',
      (el) => el.getAttribute('data-testid') === 'review-link' && !!el.textContent?.includes('agent-a11y'),
    );
    await dba.keyboard.press('Enter');
    await dba.getByRole('heading', { name: new RegExp(`Review ${reviewId}`) }).waitFor();
    await tabTo('the comment box', (el) => el.tagName === 'TEXTAREA');
    await dba.keyboard.type('checked by keyboard');
    await tabTo('the Approve button', (el) => el.tagName === 'BUTTON' && el.textContent === 'Approve', 3);
    await dba.keyboard.press('Enter');
    await dba.getByTestId('acted').filter({ hasText: 'approved' }).waitFor();

    const token = await gw.token('auditor', ['dba']);
    const got = await api<{ review: Review }>(gw, token, 'GET', `/api/v1/reviews/${encodeURIComponent(reviewId)}`);
    assert.equal(got.status, 200);
    assert.equal(got.body.review.state, 'approved');
    assert.deepEqual(
      got.body.review.approvals.map((a) => [a.sub, a.reason]),
      [['kim', 'checked by keyboard']],
    );
  });
});

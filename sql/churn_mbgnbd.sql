-- MBG/NBD scoring against test/fixtures/mbgnbd_ref.py (mpmath, integrating
-- the model over lambda and p, not the closed forms used here).
SELECT m, x, t_x, t, abs(tagscrm.mbgnbd_p_alive(bg, x, t_x, t) / pa - 1) < 1e-9 AS p_alive_ok,
       ey IS NULL OR abs(tagscrm.mbgnbd_expected_purchases(bg, 39, x, t_x, t) / ey - 1) < 1e-9 AS expected_ok
FROM (VALUES (1, ROW(0.243, 4.414, 0.793, 2.426, NULL, NULL)::tagscrm.bgnbd_model),
             (2, ROW(1.5, 10, 2.5, 3, NULL, NULL)::tagscrm.bgnbd_model)) mo(m, bg)
JOIN (VALUES (1, 0, 0, 38.86, 0.637253337964895, NULL::float8),
             (1, 0, 0, 1, 0.744321752330851, NULL),
             (1, 2, 30.43, 38.86, 0.774419242623646, NULL),
             (1, 7, 35, 38, 0.874799267422526, NULL),
             (1, 1, 2, 60, 0.197168449167087, NULL),
             (2, 0, 0, 38.86, 0.0999986657468288, 0.0874167356047349),
             (2, 0, 0, 1, 0.509837801976146, 1.06109339644344),
             (2, 2, 30.43, 38.86, 0.507572606660327, 0.929542172539059),
             (2, 7, 35, 38, 0.697984157614968, 2.78355040083579),
             (2, 1, 2, 60, 0.0190965217686441, 0.0201440433602142)) r(m, x, t_x, t, pa, ey) USING (m)
ORDER BY m, x, t;
-- a new customer: the first purchase may already be the last
SELECT abs(tagscrm.mbgnbd_expected_purchases(ROW(1.5, 10, 2.5, 3, NULL, NULL)::tagscrm.bgnbd_model, 39)
           / 1.17993926200187 - 1) < 1e-9 AS new_ok;
-- a one-time buyer silent long is likely dead (BG/NBD would say alive)
SELECT tagscrm.mbgnbd_p_alive(ROW(0.243, 4.414, 0.793, 2.426, NULL, NULL)::tagscrm.bgnbd_model, 0, 0, 500) < 0.5 AS low,
       tagscrm.bgnbd_p_alive(ROW(0.243, 4.414, 0.793, 2.426, NULL, NULL)::tagscrm.bgnbd_model, 0, 0, 500) AS bg;
-- large x stays finite (log space)
SELECT tagscrm.mbgnbd_p_alive(ROW(0.243, 4.414, 0.793, 2.426, NULL, NULL)::tagscrm.bgnbd_model, 5000, 10, 38) < 1e-12 AS tiny;
-- errors
SELECT tagscrm.mbgnbd_expected_purchases(ROW(1.5, 10, 2.5, 3, NULL, NULL)::tagscrm.bgnbd_model, -1);
SELECT tagscrm.mbgnbd_p_alive(ROW(1.5, 10, 2.5, 3, NULL, NULL)::tagscrm.bgnbd_model, 1.5, 2, 3);
-- mbgnbd_clv: undiscounted, E[Z] * E[Y(H)] of MBG/NBD; discounted, the
-- per-period increments of mbgnbd_expected_purchases discounted in SQL
SELECT abs(tagscrm.mbgnbd_clv(bg, gg, 2, 30.43, 38.86, 35, 52)
           / (tagscrm.gamma_gamma_expected_value(gg, 2, 35) * tagscrm.mbgnbd_expected_purchases(bg, 52, 2, 30.43, 38.86)) - 1)
         < 1e-12 AS undiscounted_ok,
       abs(tagscrm.mbgnbd_clv(bg, gg, 2, 30.43, 38.86, 35, 10.5, 0.01)
           / (tagscrm.gamma_gamma_expected_value(gg, 2, 35)
              * (SELECT sum((tagscrm.mbgnbd_expected_purchases(bg, least(k, 10.5), 2, 30.43, 38.86)
                             - tagscrm.mbgnbd_expected_purchases(bg, k - 1, 2, 30.43, 38.86)) / 1.01 ^ least(k, 10.5))
                   FROM generate_series(1, 11) k)) - 1) < 1e-12 AS discounted_ok,
       tagscrm.mbgnbd_clv(bg, gg, 2, 30.43, 38.86, 35, 52) <> tagscrm.clv(bg, gg, 2, 30.43, 38.86, 35, 52) AS not_bgnbd
  FROM (SELECT ROW(1.5, 10, 2.5, 3, NULL, NULL)::tagscrm.bgnbd_model AS bg,
               ROW(6.25, 3.74, 15.44, NULL, NULL)::tagscrm.gamma_gamma_model AS gg) m;
